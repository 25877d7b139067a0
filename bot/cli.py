"""The `propdesk` command: run the bot, migrate the database, import units and prices."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# Start-up allocates hundreds of thousands of objects that live as long as the process
# (modules, classes, SQLAlchemy's tables and mappers, pydantic's and PTB's types); the cyclic
# collector walking them again and again was about a fifth of the imports' CPU (issue 15).
# It is paused while this module imports the desk, and for `propdesk run` until the desk
# serves (_serve): what start-up built is then frozen out of later collections.
_COLLECTING = gc.isenabled()
gc.disable()
from bot.bootstrap import Services, bootstrap, configure_logging  # noqa: E402
from bot.config import ConfigError, Settings, load_settings  # noqa: E402
from store import migrate  # noqa: E402
from store.imports import ImportReport  # noqa: E402

if _COLLECTING:
    # frozen first: a collection walks only objects made since its last one, and nothing made
    # while it was paused has been walked, so the first one would walk every import (~35 ms)
    gc.freeze()
    gc.enable()

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# what @BotFather hands out: the bot's numeric id, a colon, then letters, digits, "_" and "-"
TOKEN_FORMAT = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}")

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set.
To get one: open Telegram, talk to @BotFather, send /newbot and follow the steps; it replies
with a token like 123456789:AAE...  Then run:
    export TELEGRAM_BOT_TOKEN=123456789:AAE...
or put TELEGRAM_BOT_TOKEN=... in a .env file here, and start again."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `propdesk` console command."""
    parser = _parser()
    _describe(parser)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    configure_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        _say_default_database(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except (OperationalError, InterfaceError) as exc:  # the database cannot be reached or used
        print(_database_problem(exc), file=sys.stderr)
        return EXIT_CONFIG


def _say_default_database(args: argparse.Namespace) -> None:
    """Name the database on stderr when none is configured (issue 11.14): the default one in
    the installation's var/, wherever the command is run from."""
    from bot.config import default_database_url

    if args.func.__module__ != __name__:  # e.g. the sandbox: its own database
        return
    default = default_database_url()
    if load_settings().database_url == default:
        where = default.removeprefix("sqlite:///")
        print(
            f"database: {where} (the default; set PROPDESK_DATABASE_URL to choose)",
            file=sys.stderr,
        )


def _database_problem(exc: Exception) -> str:
    """One line naming the database (without its password) and the driver's first words."""
    from sqlalchemy.engine import make_url

    try:
        url = load_settings().database_url
        where = make_url(url).render_as_string(hide_password=True)
    except Exception:  # the settings themselves are the problem: say what we know
        where = "PROPDESK_DATABASE_URL"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    return (
        f"cannot use the database {where}: {first}. Check that the server is running and "
        "PROPDESK_DATABASE_URL is right."
    )


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every command's --help starts with the one line its parent lists (issue 11.17)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                child = action.choices[listed.dest]
                if child.description is None and listed.help:
                    child.description = listed.help[:1].upper() + listed.help[1:] + "."
                _describe(child)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="propdesk", description="A property service desk (物业客服) in a chat bot."
    )
    sub = parser.add_subparsers(title="commands")

    run = sub.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve an ASGI webhook app instead of long polling "
        "(needs PROPDESK_WEBHOOK_URL and PROPDESK_WEBHOOK_SECRET)",
    )
    run.add_argument("--verbose", action="store_true", help="log every request")
    run.set_defaults(func=_run)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(title="db commands")
    up = db_sub.add_parser("upgrade", help="create or upgrade the schema to the latest revision")
    up.set_defaults(func=_db_upgrade)

    units = sub.add_parser("units", help="the unit registry (房号)")
    units_sub = units.add_subparsers(title="units commands")
    u_imp = units_sub.add_parser(
        "import", help="import units from CSV: building,unit,room,owner_name,phones"
    )
    u_imp.add_argument("file", type=Path)
    u_imp.set_defaults(func=_units_import)

    prices = sub.add_parser("prices", help="the paid-service price list (收费标准)")
    prices_sub = prices.add_subparsers(title="prices commands")
    p_imp = prices_sub.add_parser(
        "import",
        help="import the price list from CSV or YAML: code,category,name_zh,name_en,unit,price",
    )
    p_imp.add_argument("file", type=Path)
    p_imp.set_defaults(func=_prices_import)
    _staff_parsers(sub)
    from bot.webchat.command import add_sandbox_parser  # the no-token sandbox (issue 12)

    add_sandbox_parser(sub)
    order = sub.add_parser("order", help="work orders")
    order_sub = order.add_subparsers(title="order commands")
    show = order_sub.add_parser(
        "show", help="print an order and its whole history: who did what, when, for how much"
    )
    show.add_argument("number", help="the order number, e.g. R-20261122-0007")
    show.set_defaults(func=_order_show)
    _report_parsers(sub)
    complaint = sub.add_parser("complaint", help="complaints and suggestions")
    complaint_sub = complaint.add_subparsers(title="complaint commands")
    c_show = complaint_sub.add_parser(
        "show", help="print a complaint and its history (anonymous complainants stay hidden)"
    )
    c_show.add_argument("number", help="the complaint number, e.g. C-20261129-0003")
    c_show.add_argument(
        "--reveal", action="store_true", help="name an anonymous complainant (managers only)"
    )
    c_show.add_argument("--by", type=int, help="the manager's person id (with --reveal)")
    c_show.set_defaults(func=_complaint_show)

    timers = sub.add_parser(
        "timers", help="what the scheduler still has to do, and what it gave up on"
    )
    timers.set_defaults(func=_timers)
    examples = sub.add_parser(
        "examples",
        help="load the example estate (examples/units.csv, prices.csv) if no units are "
        "registered yet; otherwise leave everything as it is",
    )
    examples.set_defaults(func=_examples)
    return parser


def _staff_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from store.staff import DEPARTMENTS, ROLES

    staff = sub.add_parser("staff", help="staff accounts and roles")
    staff_sub = staff.add_subparsers(title="staff commands")
    invite = staff_sub.add_parser(
        "invite", help="print a one-time link (72 h) that makes whoever opens it a staff member"
    )
    invite.add_argument("--role", required=True, choices=ROLES)
    invite.add_argument(
        "--department",
        choices=DEPARTMENTS,
        help="for engineers, cleaners, gardeners and their supervisors",
    )
    invite.add_argument("--name", help="who the link is for (kept with the invitation)")
    invite.set_defaults(func=_staff_invite)
    listing = staff_sub.add_parser("list", help="everyone with a staff role")
    listing.set_defaults(func=_staff_list)
    revoke = staff_sub.add_parser("revoke", help="take a role (or every role) from a person")
    revoke.add_argument("person_id", type=int, help="the id shown by `propdesk staff list`")
    revoke.add_argument("--role", choices=ROLES, help="only this role (default: all roles)")
    revoke.set_defaults(func=_staff_revoke)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.telegram_bot_token and settings.staff_channel == "wecom":
        return _run_without_telegram(settings)  # owners on WeChat, staff on WeCom
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_CONFIG
    if not TOKEN_FORMAT.fullmatch(settings.telegram_bot_token):
        print(
            "invalid setting TELEGRAM_BOT_TOKEN: a token looks like 123456789:AAE... (digits, a "
            "colon, then letters, digits, _ and -); copy it again from @BotFather.",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if args.webhook and not (settings.webhook_url and settings.webhook_secret):
        print(
            "invalid setting PROPDESK_WEBHOOK_URL: --webhook needs PROPDESK_WEBHOOK_URL and "
            "PROPDESK_WEBHOOK_SECRET",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    collecting = gc.isenabled()
    gc.disable()  # until the desk serves (see _COLLECTING)
    try:
        return _start_and_serve(settings, webhook=args.webhook)
    finally:
        if collecting:
            gc.enable()


def _start_and_serve(settings: Settings, *, webhook: bool) -> int:
    from telegram.error import InvalidToken, NetworkError

    services = bootstrap(settings)
    if not _writable(services):
        return EXIT_CONFIG
    try:
        asyncio.run(_serve(services, webhook=webhook))
    except InvalidToken:
        print(
            "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather (/token).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except NetworkError as exc:
        print(
            f"Cannot reach the Telegram Bot API at {settings.telegram_api_base_url} ({exc}); "
            "check the network or PROPDESK_TELEGRAM_API_BASE_URL.",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    finally:
        services.close()
    return EXIT_OK


def _run_without_telegram(settings: Settings) -> int:
    """The all-WeChat desk: WeChat Official Account for owners, WeCom for staff."""
    from bot.wecom.standalone import serve_without_telegram

    services = bootstrap(settings)
    if not _writable(services):
        return EXIT_CONFIG
    try:
        asyncio.run(serve_without_telegram(services))
    finally:
        services.close()
    return EXIT_OK


def _writable(services: Services) -> bool:
    """Probe a write before serving (issue 14.2): a bot on a read-only database would confirm
    nothing and answer no one, so it says so in one line and does not start."""
    from store.db import DatabaseNotWritable

    try:
        services.db.check_writable()
    except DatabaseNotWritable as exc:
        services.close()
        print(
            f"the database {exc.where} is read-only ({exc.reason}): give the bot's user write "
            "permission on the database file and its folder, then start again.",
            file=sys.stderr,
        )
        return False
    return True


async def _serve(services: Services, *, webhook: bool) -> None:
    from bot.telegram.app import TelegramDesk

    desk = TelegramDesk(services, webhook=webhook)
    wechat = None
    if services.settings.wechat_enabled:  # the WeChat webhook shares the ASGI app
        from bot.wechat.app import WeChatDesk

        wechat = WeChatDesk(services)
        wechat.also_notify.append(desk.sender.notify)
    wecom = None
    if services.settings.wecom_enabled:  # the WeCom app's callback shares the ASGI app
        from bot.wecom.app import WeComDesk

        wecom = WeComDesk(services)
        wecom.also_notify.append(desk.sender.notify)
        if wechat is not None:  # staff actions on WeCom tell owners on WeChat, and back
            wecom.also_notify.append(wechat.sender.notify)
            wechat.also_notify.append(wecom.sender.notify)
    webchat = None
    if services.settings.web_chat_enabled:  # owners in the browser share the ASGI app
        from bot.webchat.app import web_chat_for

        webchat = web_chat_for(services)
        webchat.also_notify.append(desk.sender.notify)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await desk.start()
    if wechat is not None:
        wechat.start()
    if wecom is not None:
        wecom.start()
    if webchat is not None:
        webchat.start()
    if not gc.isenabled():  # started (see _COLLECTING): what start-up built lives on
        gc.freeze()
        gc.enable()
    me = desk.application.bot
    logging.getLogger("propdesk").info(
        "propdesk is running as @%s (%s); press Ctrl+C to stop",
        me.username,
        "webhook" if webhook else "long polling",
    )
    try:
        if webhook or wechat is not None or wecom is not None or webchat is not None:
            # only a process that serves HTTP imports uvicorn, starlette and the WeChat, WeCom
            # and web chat apps (~0.2 s); long polling alone goes to its first getUpdates sooner
            import uvicorn

            from bot.web import webhook_app, webhook_path

            settings = services.settings
            path = webhook_path(settings.webhook_url)
            app = webhook_app(desk, path, wechat=wechat, wecom=wecom, webchat=webchat)
            server = uvicorn.Server(
                uvicorn.Config(
                    app, host=settings.webhook_listen, port=settings.webhook_port, log_level="info"
                )
            )
            server_task = asyncio.create_task(server.serve())
            await stop.wait()
            server.should_exit = True
            await server_task
        else:
            await stop.wait()
    finally:
        if webchat is not None:
            await webchat.stop()
        if wecom is not None:
            await wecom.stop()
        if wechat is not None:
            await wechat.stop()
        await desk.stop()


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.upgrade(settings.database_url)
    print(f"database is at revision {migrate.current_revision(settings.database_url)}")
    return EXIT_OK


def _import(path: Path, importer: Callable[..., ImportReport], what: str) -> int:
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return EXIT_FAILED
    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            report = importer(uow.session, path)
            if not report.ok:
                for error in report.errors:
                    where = f"{path}:{error.line}" if error.line > 0 else str(path)
                    print(f"{where}: {error.reason}", file=sys.stderr)
                print(f"{path}: {report.summary()}", file=sys.stderr)
                return EXIT_FAILED
            uow.commit()
    finally:
        services.close()
    print(f"{what}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    return EXIT_OK


def _examples(args: argparse.Namespace) -> int:
    """Load the example estate into an empty registry (a fresh database, even one another
    command created before the first start), and say what was done."""
    from sqlalchemy import func, select

    from store.models import Unit
    from store.price_list import import_prices
    from store.units import import_units

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            units = int(uow.session.scalar(select(func.count()).select_from(Unit)) or 0)
            if units:
                print(f"the unit registry has {units} units: the example estate was not loaded")
                return EXIT_OK
            reports = [
                import_units(uow.session, EXAMPLES / "units.csv"),
                import_prices(uow.session, EXAMPLES / "prices.csv"),
            ]
            if not all(r.ok for r in reports):
                print("the example files are damaged; nothing was loaded", file=sys.stderr)
                return EXIT_FAILED
            uow.commit()
    finally:
        services.close()
    added_units, added_items = (r.added + r.updated + r.unchanged for r in reports)
    print(
        f"the unit registry was empty: loaded the example estate ({added_units} units, "
        f"{added_items} price items); register as room 3-2-1201 with phone 13812345678"
    )
    return EXIT_OK


def _units_import(args: argparse.Namespace) -> int:
    from store.units import import_units

    return _import(args.file, import_units, "units")


def _prices_import(args: argparse.Namespace) -> int:
    from store.price_list import import_prices

    return _import(args.file, import_prices, "price items")


DEPARTMENT_ROLES = frozenset({"engineer", "cleaner", "gardener", "supervisor"})


def _staff_invite(args: argparse.Namespace) -> int:
    from store.staff import create_invite

    if args.department is not None and args.role not in DEPARTMENT_ROLES:
        print(
            f"a {args.role} has no department: leave out --department {args.department}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.department is None and args.role in DEPARTMENT_ROLES:
        print(f"no --department: this {args.role} works for all departments", file=sys.stderr)

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            invite = create_invite(
                uow.session, args.role, args.department, services.clock(), name=args.name
            )
            uow.commit()
        username = _bot_username(services)
    finally:
        services.close()
    expires = invite.expires_at.astimezone(services.desk.timezone).strftime("%Y-%m-%d %H:%M")
    wecom = services.settings.wecom_enabled
    if username:
        print(f"https://t.me/{username}?start={invite.code}")
    elif not wecom:
        print(
            f"Could not ask Telegram for the bot's name; in the bot's chat send:\n"
            f"/start {invite.code}"
        )
    if wecom:  # the same code, typed in the WeCom app's chat
        print(f"WeCom (企业微信), send in the app: /start {invite.code}")
    print(f"one use, valid until {expires} ({services.settings.timezone})", file=sys.stderr)
    return EXIT_OK


def _bot_username(services: Services) -> str | None:
    settings = services.settings
    if not settings.telegram_bot_token:
        return None
    from telegram import Bot
    from telegram.error import TelegramError

    async def ask() -> str | None:
        bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        async with bot:
            return bot.username

    try:
        return asyncio.run(ask())
    except (TelegramError, OSError):
        return None


def _staff_list(args: argparse.Namespace) -> int:
    from store.staff import staff_list

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            members = staff_list(uow.session)
    finally:
        services.close()
    if not members:
        print("no staff yet: create the first manager with `propdesk staff invite --role manager`")
    for member in members:
        print(f"{member.person_id:>6}  {member.name}  {', '.join(member.roles)}")
    return EXIT_OK


def _staff_revoke(args: argparse.Namespace) -> int:
    from store.staff import revoke

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            removed = revoke(uow.session, args.person_id, args.role)
            uow.commit()
    finally:
        services.close()
    if not removed:
        print(f"person {args.person_id} holds no such role; nothing changed", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed {removed} role(s) from person {args.person_id}")
    return EXIT_OK


def _order_show(args: argparse.Namespace) -> int:
    from store.history import order_history

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            lines = order_history(uow.session, args.number.strip().upper(), services.desk.timezone)
    finally:
        services.close()
    if lines is None:
        print(f"no order {args.number}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(lines))
    return EXIT_OK


def _complaint_show(args: argparse.Namespace) -> int:
    """R30: anonymity kept unless a manager reveals it; the reveal is logged as an event."""
    from store.complaints.history import RevealRefused, complaint_history

    if args.reveal and args.by is None:
        print("--reveal needs --by MANAGER_PERSON_ID (see `propdesk staff list`)", file=sys.stderr)
        return EXIT_USAGE
    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            lines = complaint_history(
                uow.session,
                args.number.strip(),
                services.desk.timezone,
                uow.now(),
                reveal_by=args.by if args.reveal else None,
            )
            uow.commit()
    except RevealRefused as exc:
        print(f"refused: {exc}; nothing was revealed", file=sys.stderr)
        return EXIT_USAGE
    finally:
        services.close()
    if lines is None:
        print(f"no complaint {args.number}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(lines))
    return EXIT_OK


def _timers(args: argparse.Namespace) -> int:
    from store.timers import failures, overview

    services = bootstrap()
    try:
        with services.db.unit_of_work() as uow:
            rows = overview(uow.session)
            failed = failures(uow.session)
            lines = [
                f"{status:8} {kind:24} {count:>8}  next {_local(services, due)}"
                for kind, status, count, due in rows
            ]
            lines += [
                f"failed #{t.id} {t.kind} subject {t.subject_id}: {t.last_error}" for t in failed
            ]
    finally:
        services.close()
    print("\n".join(lines) if lines else "no pending or failed timers")
    return EXIT_OK


def _local(services: Services, moment: object) -> str:
    from datetime import datetime

    if not isinstance(moment, datetime):
        return "-"
    return services.desk.local(moment).strftime("%Y-%m-%d %H:%M")


def _report_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="managers' reports: daily digest, monthly workbook")
    report_sub = report.add_subparsers(title="report commands")
    daily = report_sub.add_parser("daily", help="print the daily digest of a local day")
    daily.add_argument("--date", help="the local day, YYYY-MM-DD (default: yesterday)")
    daily.add_argument("--chart", type=Path, help="also write the digest's chart to this PNG")
    daily.add_argument("--language", choices=("zh", "en"), help="default: the desk's language")
    daily.set_defaults(func=_report_daily)
    monthly = report_sub.add_parser("monthly", help="write the monthly report workbook")
    monthly.add_argument("--month", required=True, help="the local month, YYYY-MM")
    monthly.add_argument("--xlsx", type=Path, required=True, help="the workbook to write")
    monthly.add_argument("--language", choices=("zh", "en"), help="default: the desk's language")
    monthly.set_defaults(func=_report_monthly)


def _report_daily(args: argparse.Namespace) -> int:
    import re
    from datetime import date, timedelta

    from scheduler.digest import complaint_text, digest_chart, digest_text
    from store.complaints.reports import complaint_day
    from store.reports import daily_figures

    day: date | None = None
    if args.date is not None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date.strip()):
                raise ValueError(args.date)
            day = date.fromisoformat(args.date.strip())
        except ValueError:
            print(f"not a date (YYYY-MM-DD): {args.date}", file=sys.stderr)
            return EXIT_FAILED
    if args.chart is not None and args.chart.suffix.lower() != ".png":
        print(
            f"{args.chart}: the chart is a PNG image; give a file name ending in .png",
            file=sys.stderr,
        )
        return EXIT_FAILED
    services = bootstrap()
    try:
        tz = services.desk.timezone
        day = day or (services.clock().astimezone(tz).date() - timedelta(days=1))
        language = args.language or services.settings.default_language
        with services.db.read_only() as session:
            figures = daily_figures(session, day, tz, services.clock())
            complaints = complaint_text(
                complaint_day(session, day, tz, services.clock()), language
            )
    finally:
        services.close()
    print(digest_text(figures, language) + (f"\n{complaints}" if complaints else ""))
    if args.chart is not None:
        try:
            args.chart.write_bytes(digest_chart(figures, language))
        except OSError as exc:
            print(f"{args.chart}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILED
        print(f"chart written to {args.chart}", file=sys.stderr)
    return EXIT_OK


def _report_monthly(args: argparse.Namespace) -> int:
    from handlers.labels import money
    from scheduler.monthly_report import write_monthly_workbook
    from store.reports import parse_month

    try:
        parse_month(args.month)
    except ValueError:
        print(f"not a month (YYYY-MM): {args.month}", file=sys.stderr)
        return EXIT_FAILED

    def progress(sheet: str, rows: int) -> None:
        print(f"{sheet}: {rows} rows…", file=sys.stderr)

    services = bootstrap()
    try:
        language = args.language or services.settings.default_language
        with services.db.read_only() as session, args.xlsx.open("wb") as out:
            s = write_monthly_workbook(
                session,
                args.month.strip(),
                services.desk.timezone,
                language,
                out,
                now=services.clock(),
                progress=progress,
            )
    except OSError as exc:
        print(f"{args.xlsx}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.close()
    c = s.compliance
    today = services.clock().astimezone(services.desk.timezone)
    if s.month > f"{today:%Y-%m}":
        print(f"{s.month} has not begun yet: the workbook is empty", file=sys.stderr)

    def rate(share: float | None) -> str:
        return "-" if share is None else f"{share:.0%}"

    print(
        f"{s.month}: {s.orders} orders, {s.completed} completed; fee detail {s.fee_rows} bills, "
        f"{money(s.fee_amount_fen)} billed, {money(s.fee_paid_fen)} paid; arrears "
        f"{s.arrears_rows} bills, {money(s.arrears_fen)}; callbacks {s.callback_rows} "
        f"(repairs {rate(c.repair_rate)}, services {rate(c.service_rate)}) -> {args.xlsx}"
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
