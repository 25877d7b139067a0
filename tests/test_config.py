"""Configuration: defaults, and one clear line naming a bad setting."""

from __future__ import annotations

import pytest

from bot.cli import EXIT_CONFIG, main
from bot.config import ConfigError, load_settings


def test_defaults_are_the_embedded_desk(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite file, Shanghai time, Chinese, 08:00–18:00."""
    monkeypatch.chdir("/")
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_language == "zh"
    assert [t.hour for t in settings.hours] == [8, 18]


def test_timer_numbers_can_be_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """PROPDESK_TIMERS overrides single numbers; the rest keep their defaults."""
    monkeypatch.setenv(
        "PROPDESK_TIMERS",
        "reannounce=15m, payment_every=2d,quiet_start=22:30,payment_max=3,service_sample_share=0.5",
    )
    policy = load_settings(_env_file=None).timer_policy
    assert policy.reannounce.total_seconds() == 15 * 60
    assert policy.payment_every.days == 2 and policy.payment_max == 3
    assert (policy.quiet_start.hour, policy.quiet_start.minute) == (22, 30)
    assert policy.service_sample_share == 0.5
    assert policy.urgent_arrival.total_seconds() == 30 * 60  # untouched default (R3)
    assert str(policy.timezone) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("PROPDESK_TIMEZONE", "Mars/Olympus", "PROPDESK_TIMEZONE"),
        ("PROPDESK_BUSINESS_HOURS", "18:00-08:00", "PROPDESK_BUSINESS_HOURS"),
        ("PROPDESK_BUSINESS_HOURS", "nine to five", "PROPDESK_BUSINESS_HOURS"),
        ("PROPDESK_DEFAULT_LANGUAGE", "fr", "PROPDESK_DEFAULT_LANGUAGE"),
        ("PROPDESK_DATABASE_URL", "mysql://x", "PROPDESK_DATABASE_URL"),
        ("PROPDESK_STAFF_GROUP_CHAT_ID", "staff", "PROPDESK_STAFF_GROUP_CHAT_ID"),
        ("PROPDESK_WEBHOOK_PORT", "99999", "PROPDESK_WEBHOOK_PORT"),
        ("PROPDESK_DEPARTMENT_GROUPS", "plumbing=-1001", "PROPDESK_DEPARTMENT_GROUPS"),
        ("PROPDESK_DEPARTMENT_GROUPS", "cleaning=staff", "PROPDESK_DEPARTMENT_GROUPS"),
        ("PROPDESK_TIMERS", "reannounce=soon", "PROPDESK_TIMERS"),
        ("PROPDESK_TIMERS", "coffee_break=10m", "PROPDESK_TIMERS"),
        ("PROPDESK_TIMERS", "quiet_start=25:00", "PROPDESK_TIMERS"),
        ("PROPDESK_TIMERS", "payment_max=many", "PROPDESK_TIMERS"),
        ("PROPDESK_TIMERS", "service_sample_share=1.5", "PROPDESK_TIMERS"),
        ("PROPDESK_SWEEP_SECONDS", "0", "PROPDESK_SWEEP_SECONDS"),
        ("PROPDESK_DIGEST_AT", "half past eight", "PROPDESK_DIGEST_AT"),
        ("PROPDESK_MONTHLY_REPORT_AT", "31 09:00", "PROPDESK_MONTHLY_REPORT_AT"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    """The error names the variable to fix."""
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_run_without_token_explains_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`propdesk run` with no token exits with the config code and points at @BotFather."""
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "@BotFather" in err


def test_bad_setting_stops_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """Start-up stops with exit code 3 and the setting's name."""
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("PROPDESK_TIMEZONE", "Nowhere/City")
    assert main(["db", "upgrade"]) == EXIT_CONFIG
    assert "PROPDESK_TIMEZONE" in capsys.readouterr().err


def test_department_groups_route_job_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cleaning has its own group; every other department uses the default one."""
    from bot.bootstrap import bootstrap

    monkeypatch.setenv("PROPDESK_STAFF_GROUP_CHAT_ID", "-1000")
    monkeypatch.setenv("PROPDESK_DEPARTMENT_GROUPS", "cleaning=-2000")
    settings = load_settings(_env_file=None, database_url="sqlite:///:memory:")
    desk = bootstrap(settings, upgrade=False).desk
    assert desk.group_for("cleaning") == "-2000"
    assert desk.group_for("engineering") == "-1000"
    assert desk.staff_groups == {"-1000", "-2000"}


def test_unreachable_bot_api_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """No stack trace when Telegram cannot be reached at start: one line and exit code 4."""
    from bot.cli import EXIT_UNAVAILABLE

    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:unreachable")
    monkeypatch.setenv("PROPDESK_TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("PROPDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert main(["run"]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "Cannot reach the Telegram Bot API" in err and "Traceback" not in err
