"""One running WeChat Official Account channel: the webhook endpoint and the outbox sender."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from wechatpy.crypto import WeChatCrypto

from bot.bootstrap import Services
from bot.config import parse_templates
from bot.outbox import UNPACED, OutboxSender, SenderChannel
from bot.wechat.api import WeChatApi
from bot.wechat.delivery import WeChatDelivery
from bot.wechat.token import TokenKeeper

log = logging.getLogger(__name__)


class WeChatDesk(SenderChannel):
    """The WeChat channel of the desk: serve `endpoint` on the ASGI app, deliver the outbox."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.services = services
        self.settings = settings
        self.db = services.db
        self.desk = services.desk
        self.clock = services.clock
        self.crypto = (
            WeChatCrypto(
                settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id
            )
            if settings.wechat_encoding_aes_key
            else None
        )
        self.api = WeChatApi(settings.wechat_api_base_url)
        self.tokens = TokenKeeper(
            services.db,
            self.api,
            services.clock,
            settings.wechat_app_id,
            settings.wechat_app_secret,
            fixed=settings.wechat_access_token,
        )
        # chats whose webhook request is preparing a passive reply: this sender leaves them be
        self.holding: dict[str, int] = {}
        self.delivery = WeChatDelivery(
            services.db,
            self.api,
            self.tokens,
            services.clock,
            templates=parse_templates(settings.wechat_templates),
            default_language=settings.default_language,
            timezone=ZoneInfo(settings.timezone),
            holding=self.holding,
        )
        # WeChat has no per-chat pace to keep; its quotas come back as errors (RetryLater);
        # the other channels' senders are woken when a WeChat message wrote to them (staff cards)
        super().__init__(
            OutboxSender(
                services.db, self.delivery, services.clock, settings.outbox_poll_seconds, UNPACED
            )
        )

    async def close(self) -> None:
        """Close the API client."""
        await self.api.close()
