"""The composition root: every entry point (polling, webhook, CLI, tests) builds the desk here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import Settings, load_settings, parse_department_groups
from handlers.desk import Desk
from store import migrate
from store.clock import Clock, system_clock
from store.db import Database
from store.promises import POLICY_KEY


@dataclass
class Services:
    """The wired desk: settings, database and the handlers' policy."""

    settings: Settings
    db: Database
    desk: Desk
    clock: Clock

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def bootstrap(
    settings: Settings | None = None, *, clock: Clock = system_clock, upgrade: bool = True
) -> Services:
    """Load settings, bring the schema up to date and wire the desk."""
    settings = settings or load_settings()
    if upgrade:
        migrate.upgrade(settings.database_url)
    opens, closes = settings.hours
    policy = settings.timer_policy
    groups = parse_department_groups(settings.department_groups)
    default_group, staff_groups = settings.default_group, settings.staff_groups
    if settings.staff_channel == "wecom":  # WeCom has no bot groups: a group is its recipients
        from bot.wecom.groups import DEFAULT_GROUP, department_groups

        groups, default_group = department_groups(), DEFAULT_GROUP
        staff_groups = frozenset({default_group, *(chat for _, chat in groups)})
    desk = Desk(
        timezone=ZoneInfo(settings.timezone),
        default_language=settings.default_language,
        opens=opens,
        closes=closes,
        visit_window_hours=settings.visit_window_hours,
        staff_groups=staff_groups,
        default_group=default_group,
        complaints_group=(
            settings.complaints_group_chat_id.strip() or None
            if settings.staff_channel != "wecom"
            else None
        ),
        department_groups=groups,
        callout_fee_fen=settings.callout_fee_fen,
        timers=policy,
        staff_channel=settings.staff_channel,
        # with no group limit a card goes at once: nothing to gather
        card_batch=settings.job_card_batch if settings.telegram_group_per_minute > 0 else 1,
        web_chat_url=(settings.web_chat_url or None) if settings.web_chat_enabled else None,
        clock=clock,
    )
    db = Database(settings.database_url, clock, info={POLICY_KEY: policy})
    return Services(settings=settings, db=db, desk=desk, clock=clock)


def configure_logging(level: int = logging.INFO) -> None:
    """Plain, timestamped logs; the HTTP client's per-request lines only at debug level."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
