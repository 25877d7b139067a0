"""Settings from the environment or `.env` (pydantic-settings); bad values stop start-up."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB = "sqlite:///var/propdesk.db"


class Settings(BaseSettings):
    """Everything an operator can configure; environment variables are prefixed PROPDESK_."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="PROPDESK_", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: str = Field(default="", validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    database_url: str = DEFAULT_DB
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh"
    staff_group_chat_id: str = ""
    department_groups: str = ""  # e.g. "cleaning=-1001111,greening=-1002222"
    business_hours: str = "08:00-18:00"
    visit_window_hours: int = Field(default=2, ge=1, le=10)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    callout_fee_yuan: float = Field(default=0, ge=0, le=10_000)  # charged when a quote is declined

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

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("staff_group_chat_id")
    @classmethod
    def _group_ids(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if not part.lstrip("-").isdigit():
                raise ValueError("must be numeric chat ids, comma separated, e.g. -1001234567890")
        return value

    @field_validator("department_groups")
    @classmethod
    def _department_groups(cls, value: str) -> str:
        parse_department_groups(value)
        return value

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
        return frozenset(
            ids | {chat for _, chat in parse_department_groups(self.department_groups)}
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


def parse_hours(value: str) -> tuple[time, time]:
    """Parse "08:00-18:00" into two times, opening before closing."""
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError:
        raise ValueError("must look like 08:00-18:00") from None
    if start >= end:
        raise ValueError("opening time must be before closing time")
    return start, end


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
