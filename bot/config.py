"""Settings from the environment or `.env` (pydantic-settings); bad values stop start-up."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import fields
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.plan import ReportTimes
from store.promises import TimerPolicy

#: the installation's own data folder (var/ beside bot/), unless PROPDESK_DATA_DIR names
#: another: the default database is resolved there, never in the working directory, so a
#: command run from another folder does not create an empty database of its own (issue 11.14)
DATA_DIR = Path(__file__).resolve().parent.parent / "var"


def default_database_url() -> str:
    """The SQLite database used when PROPDESK_DATABASE_URL is not set: an absolute path."""
    folder = Path(os.environ.get("PROPDESK_DATA_DIR") or DATA_DIR).expanduser().resolve()
    return f"sqlite:///{folder / 'propdesk.db'}"


DEFAULT_DB = default_database_url()  # as resolved when the process started


# settings with a format of their own, each checked by the function that reads it (PARSERS)
FORMATTED = (
    "business_hours",
    "timers",
    "digest_at",
    "monthly_report_at",
    "department_groups",
    "wechat_templates",
    "wecom_card_users",
)


class Settings(BaseSettings):
    """Everything an operator can configure; environment variables are prefixed PROPDESK_."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="PROPDESK_", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: str = Field(default="", validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    database_url: str = Field(default_factory=default_database_url)
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh"
    staff_group_chat_id: str = ""
    department_groups: str = ""  # e.g. "cleaning=-1001111,greening=-1002222"
    complaints_group_chat_id: str = ""  # the agents' group for complaint cards (R32); else staff
    business_hours: str = "08:00-18:00"
    visit_window_hours: int = Field(default=2, ge=1, le=10)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Telegram's limits, kept by the outbox sender's lanes (0: no limit)
    telegram_chat_per_second: float = Field(default=1.0, ge=0)
    telegram_group_per_minute: float = Field(default=20.0, ge=0)
    telegram_overall_per_second: float = Field(default=30.0, ge=0)
    # orders a job card gathers while the group's cards wait for its limit (1: one card each)
    job_card_batch: int = Field(default=5, ge=1, le=10)
    callout_fee_yuan: float = Field(default=0, ge=0, le=10_000)  # charged when a quote is declined
    # WeChat Official Account (bot/wechat); the channel is on when app id and token are set
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_token: str = ""  # the server Token of the account's developer settings
    wechat_encoding_aes_key: str = ""  # 43 characters: safe mode (安全模式) when set
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_access_token: str = ""  # a fixed token from elsewhere (a token proxy); never fetched
    wechat_templates: str = ""  # template id per kind, e.g. "notice=TPL1,reminder=TPL2"
    wechat_path: str = "/wechat"
    wechat_max_body: int = Field(default=64_000, ge=1_000, le=10_000_000)
    wechat_reply_seconds: float = Field(default=4.5, gt=0, le=4.8)  # WeChat waits 5 s
    # WeCom (企业微信) self-built app for staff (bot/wecom); on when corp id, agent id and token
    # are set; staff_channel "wecom" sends job cards, alerts and reports there
    staff_channel: str = "telegram"
    wecom_corp_id: str = ""
    wecom_agent_id: int = Field(default=0, ge=0)
    wecom_secret: str = ""
    wecom_token: str = ""  # the callback Token of the app's 接收消息 settings
    wecom_encoding_aes_key: str = ""  # 43 characters; WeCom callbacks are always encrypted
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"
    wecom_access_token: str = ""  # a fixed token from elsewhere; never fetched
    wecom_robot_url: str = ""  # a group robot (群机器人) webhook that mirrors job cards, read-only
    wecom_card_users: str = ""  # who gets job cards, e.g. "engineering=wanggong|ligong"
    wecom_path: str = "/wecom"
    wecom_max_body: int = Field(default=64_000, ge=1_000, le=10_000_000)
    # the web chat for owners (bot/webchat) on the webhook app; on when the secret is set
    web_chat_secret: str = ""  # signs web sessions: at least 32 random characters
    web_chat_files: str = "var/web-files"  # where pictures sent from the web are kept
    web_chat_secure_cookie: bool = True  # the session cookie travels over HTTPS only
    web_chat_url: str = ""  # the chat page's public address, e.g. https://desk.example.com/web/chat
    # timer numbers, e.g. "reannounce=10m,payment_every=3d,quiet_start=21:00" (see README)
    timers: str = ""
    sweep_seconds: float = Field(default=15.0, gt=0, le=3600)
    scheduler_enabled: bool = True  # timers and reports run in this process
    digest_at: str = "08:30"  # the managers' daily digest, local time (R52)
    monthly_report_at: str = "1 09:00"  # day of month and local time of the monthly report (R51)
    complaint_summary_day: int = Field(default=25, ge=1, le=28)  # managers' complaint summary (R35)

    @property
    def callout_fee_fen(self) -> int:
        """The call-out fee in fen (R5): 0 means none."""
        return round(self.callout_fee_yuan * 100)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from None
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("zh", "en"):
            raise ValueError("must be zh or en")
        return value

    @field_validator(*FORMATTED)
    @classmethod
    def _formatted(cls, value: str, info: ValidationInfo) -> str:
        PARSERS[str(info.field_name)](value)  # a format is checked by the code that reads it
        return value

    @field_validator("staff_group_chat_id")
    @classmethod
    def _group_ids(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if not part.lstrip("-").isdigit():
                raise ValueError("must be numeric chat ids, comma separated, e.g. -1001234567890")
        return value

    @field_validator("wechat_encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        if value and (len(value) != 43 or not value.isalnum() or not value.isascii()):
            raise ValueError("must be the 43 letters and digits of the EncodingAESKey")
        return value

    @field_validator("web_chat_secret")
    @classmethod
    def _web_secret(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters (e.g. from `openssl rand -hex 32`)")
        return value

    @field_validator("web_chat_url")
    @classmethod
    def _web_chat_url(cls, value: str) -> str:
        if value and (not value.startswith(("https://", "http://")) or "#" in value):
            raise ValueError(
                "must be the chat page's address, e.g. https://desk.example.com/web/chat"
            )
        return value

    @field_validator("wechat_path")
    @classmethod
    def _wechat_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path starting with /, e.g. /wechat")
        return value

    @field_validator("wecom_encoding_aes_key")
    @classmethod
    def _wecom_aes_key(cls, value: str) -> str:
        if value and (len(value) != 43 or not value.isalnum() or not value.isascii()):
            raise ValueError("must be the 43 letters and digits of the EncodingAESKey")
        return value

    @field_validator("wecom_path")
    @classmethod
    def _wecom_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path starting with /, e.g. /wecom")
        return value

    @field_validator("staff_channel")
    @classmethod
    def _staff_channel(cls, value: str) -> str:
        if value not in ("telegram", "wecom"):
            raise ValueError("must be telegram or wecom")
        return value

    @model_validator(mode="after")
    def _wecom_complete(self) -> Settings:
        if self.staff_channel == "wecom" and not self.wecom_enabled:
            raise ValueError(
                "PROPDESK_STAFF_CHANNEL=wecom needs PROPDESK_WECOM_CORP_ID, "
                "PROPDESK_WECOM_AGENT_ID, PROPDESK_WECOM_TOKEN and PROPDESK_WECOM_ENCODING_AES_KEY"
            )
        return self

    @property
    def wecom_enabled(self) -> bool:
        """Whether the WeCom app channel is configured (corp, agent, callback token and key)."""
        return bool(
            self.wecom_corp_id
            and self.wecom_agent_id
            and self.wecom_token
            and self.wecom_encoding_aes_key
        )

    @property
    def web_chat_enabled(self) -> bool:
        """Whether owners can use the web chat on the webhook app."""
        return bool(self.web_chat_secret)

    @property
    def wechat_enabled(self) -> bool:
        """Whether the WeChat channel is configured (app id and server token)."""
        return bool(self.wechat_app_id and self.wechat_token)

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("PROPDESK_WEBHOOK_SECRET is required when PROPDESK_WEBHOOK_URL is set")
        if self.webhook_secret and not all(c.isalnum() or c in "_-" for c in self.webhook_secret):
            raise ValueError("PROPDESK_WEBHOOK_SECRET may use only A-Z, a-z, 0-9, _ and -")
        return self

    @property
    def default_group(self) -> str | None:
        """The staff group of every department without a group of its own."""
        first = self.staff_group_chat_id.split(",")[0].strip()
        return first or None

    @property
    def staff_groups(self) -> frozenset[str]:
        """Every staff group chat id."""
        ids = {p.strip() for p in self.staff_group_chat_id.split(",") if p.strip()}
        if self.complaints_group_chat_id.strip():
            ids.add(self.complaints_group_chat_id.strip())
        return frozenset(
            ids | {chat for _, chat in parse_department_groups(self.department_groups)}
        )

    @property
    def timer_policy(self) -> TimerPolicy:
        """The timer numbers, defaults overridden by PROPDESK_TIMERS."""
        overrides = parse_timer_overrides(self.timers)
        return TimerPolicy(timezone=ZoneInfo(self.timezone), **overrides)  # type: ignore[arg-type]

    @property
    def report_times(self) -> ReportTimes:
        """When the daily digest and the monthly report go out."""
        day, clock = parse_monthly_at(self.monthly_report_at)
        return ReportTimes(
            ZoneInfo(self.timezone),
            _clock(self.digest_at),
            day,
            clock,
            complaint_day=self.complaint_summary_day,
        )

    @property
    def hours(self) -> tuple[time, time]:
        """Business hours as (opens, closes)."""
        return parse_hours(self.business_hours)


DEPARTMENTS = ("engineering", "cleaning", "greening")


def parse_department_groups(value: str) -> tuple[tuple[str, str], ...]:
    """Parse "cleaning=-100111,greening=-100222" into (department, chat id) pairs."""
    pairs = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        department, _, chat = part.partition("=")
        department, chat = department.strip(), chat.strip()
        if department not in DEPARTMENTS or not chat.lstrip("-").isdigit():
            raise ValueError(
                "must look like cleaning=-1001111,greening=-1002222 "
                f"(departments: {', '.join(DEPARTMENTS)})"
            )
        pairs.append((department, chat))
    return tuple(pairs)


def parse_templates(value: str) -> dict[str, str]:
    """Parse "notice=TPL1,reminder=TPL2" into {kind: WeChat template id}."""
    templates = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        kind, _, template = part.partition("=")
        kind, template = kind.strip(), template.strip()
        if not kind or not template or not all(c.isalnum() or c in "_-" for c in kind + template):
            raise ValueError("must look like notice=TEMPLATE_ID,reminder=TEMPLATE_ID")
        templates[kind] = template
    return templates


def parse_card_users(value: str) -> dict[str, tuple[str, ...]]:
    """Parse "engineering=wanggong|ligong,all=boss" into {department or "all": WeCom userids}."""
    users: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        department, _, ids = part.partition("=")
        department = department.strip()
        names = tuple(u.strip() for u in ids.split("|") if u.strip())
        valid = all(u.isascii() and all(c.isalnum() or c in "_-.@" for c in u) for u in names)
        if department not in (*DEPARTMENTS, "all") or not names or not valid:
            raise ValueError(
                "must look like engineering=wanggong|ligong,cleaning=zhaoyi "
                f"(departments: {', '.join(DEPARTMENTS)}, or all)"
            )
        users[department] = names
    return users


def parse_hours(value: str) -> tuple[time, time]:
    """Parse "08:00-18:00" into two times, opening before closing."""
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError:
        raise ValueError("must look like 08:00-18:00") from None
    if start >= end:
        raise ValueError("opening time must be before closing time")
    return start, end


def _clock(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} must be a time like 08:30") from None


def parse_monthly_at(value: str) -> tuple[int, time]:
    """Parse "1 09:00" (day of month 1–28, local time)."""
    day, _, clock = value.strip().partition(" ")
    if not day.isdigit() or not 1 <= int(day) <= 28:
        raise ValueError("must look like 1 09:00 (a day of month 1-28 and a time)")
    return int(day), _clock(clock)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: str) -> timedelta:
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"{value!r} must be a duration like 30m, 4h or 3d")
    return timedelta(seconds=float(number) * _UNITS[unit])


def parse_timer_overrides(value: str) -> dict[str, object]:
    """Parse "reannounce=10m,payment_max=5,quiet_start=21:00" into TimerPolicy fields."""
    defaults = TimerPolicy()
    known = {f.name for f in fields(TimerPolicy)} - {"timezone"}
    overrides: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, raw = (x.strip() for x in part.partition("="))
        if name not in known:
            raise ValueError(f"unknown timer {name!r}; known: {', '.join(sorted(known))}")
        current = getattr(defaults, name)
        if isinstance(current, timedelta):
            overrides[name] = _duration(raw)
        elif isinstance(current, time):
            overrides[name] = _clock(raw)
        elif isinstance(current, int):
            if not raw.isdigit():
                raise ValueError(f"{name} must be a whole number")
            overrides[name] = int(raw)
        else:
            try:
                share = float(raw)
            except ValueError:
                share = -1.0
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
            overrides[name] = share
    return overrides


PARSERS: dict[str, Callable[[str], object]] = {
    "business_hours": parse_hours,
    "timers": parse_timer_overrides,
    "digest_at": _clock,
    "monthly_report_at": parse_monthly_at,
    "department_groups": parse_department_groups,
    "wechat_templates": parse_templates,
    "wecom_card_users": parse_card_users,
}


class ConfigError(Exception):
    """A setting is invalid; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one clear line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        env = "TELEGRAM_BOT_TOKEN" if name == "TELEGRAM_BOT_TOKEN" else f"PROPDESK_{name.upper()}"
        if not first["loc"]:
            raise ConfigError(f"invalid configuration: {first['msg']}") from None
        raise ConfigError(f"invalid setting {env}: {first['msg']}") from None
