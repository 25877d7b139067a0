"""One running WeCom app channel: the callback endpoint and the outbox sender."""

from __future__ import annotations

import logging

from wechatpy.enterprise.crypto import WeChatCrypto

from bot.bootstrap import Services
from bot.config import parse_card_users
from bot.outbox import UNPACED, OutboxSender, SenderChannel
from bot.wechat.token import TokenKeeper
from bot.wecom.api import WeComApi
from bot.wecom.delivery import WeComDelivery

log = logging.getLogger(__name__)


def token_key(corp_id: str, agent_id: int) -> str:
    """The app's row in the shared token table (wechat_tokens): one token per corp and app."""
    return f"wecom:{corp_id}:{agent_id}"[:64]


class WeComDesk(SenderChannel):
    """The WeCom channel of the desk: serve `endpoint` on the ASGI app, deliver the outbox."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.services = services
        self.settings = settings
        self.db = services.db
        self.desk = services.desk
        self.clock = services.clock
        self.crypto = WeChatCrypto(
            settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id
        )
        self.api = WeComApi(
            settings.wecom_api_base_url,
            settings.wecom_corp_id,
            settings.wecom_secret,
            settings.wecom_agent_id,
        )
        # shared like the Official Account's, in its own row of wechat_tokens (no migration)
        self.tokens = TokenKeeper(
            services.db,
            _CorpTokens(self.api, settings.wecom_corp_id),
            services.clock,
            token_key(settings.wecom_corp_id, settings.wecom_agent_id),
            settings.wecom_secret,
            fixed=settings.wecom_access_token,
        )
        self.delivery = WeComDelivery(
            services.db,
            self.api,
            self.tokens,
            default_language=settings.default_language,
            card_users=parse_card_users(settings.wecom_card_users),
            robot_url=settings.wecom_robot_url,
        )
        # WeCom's quotas come back as errors (45009): no pace of our own; the other channels'
        # senders are woken when a WeCom message wrote to them (owners' news)
        super().__init__(
            OutboxSender(
                services.db, self.delivery, services.clock, settings.outbox_poll_seconds, UNPACED
            )
        )

    async def close(self) -> None:
        """Close the API client."""
        await self.api.close()


class _CorpTokens:
    """Fetches with the corp id, whatever key the token row has."""

    def __init__(self, api: WeComApi, corp_id: str) -> None:
        self.api = api
        self.corp_id = corp_id

    async def fetch_token(self, app_id: str, secret: str) -> tuple[str, int]:
        """A new token of the corp's app (the row key is not the corp id)."""
        return await self.api.fetch_token(self.corp_id, secret)
