"""The no-token sandbox: the whole desk in one browser page on 127.0.0.1.

The example estate on its own SQLite file, one chat pane per example person (two owners and
the staff, who joined through the real invitation code) plus the staff group, all on the web
channel. The desk's one clock is an offset clock the page may move ahead ("skip ahead"), so
reminders, callbacks, escalations and the digest can be seen without waiting."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.webchat.app import STATIC, Member, WebChat
from bot.webchat.delivery import CHANNEL
from bot.webchat.session import Sessions
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from scheduler.effects import EFFECTS
from scheduler.service import DeskScheduler
from store.clock import Clock, system_clock
from store.models import Unit
from store.people import person_by_identity
from store.price_list import import_prices
from store.staff import create_invite
from store.units import import_units

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GROUP = "-1009000000001"  # the sandbox's staff group: a web chat, configured as the staff group
SKIPS = {30: "30 min", 120: "2 h", 1440: "1 day"}


@dataclass(frozen=True)
class Persona:
    """One example person of the sandbox, with a pane of their own."""

    key: str
    role: str | None  # None: an owner, who registers in the pane
    department: str | None
    name: str
    language: str
    title: str
    hint: str = ""

    @property
    def user_id(self) -> str:
        """The person's web id (fixed: the sandbox always shows the same people)."""
        return f"sandbox-{self.key}"


PEOPLE = (
    Persona(
        "owner",
        None,
        None,
        "张伟",
        "zh",
        "业主 3-2-1201 · Owner",
        "/start → 张伟 → 3-2-1201 → 13812345678",
    ),
    Persona(
        "owner2",
        None,
        None,
        "Lu Tao",
        "en",
        "Owner 3-1-101 · 业主",
        "/start → Lu Tao → 3-1-101 → 13858308219",
    ),
    Persona("engineer", "engineer", "engineering", "王师傅", "zh", "工程师 · Engineer"),
    Persona("supervisor", "supervisor", None, "Zhao Min", "en", "Supervisor · 主管"),
    Persona("agent", "agent", None, "李客服", "zh", "客服 · Agent"),
    Persona("finance", "finance", None, "Qian Li", "en", "Finance · 财务"),
    Persona("manager", "manager", None, "周经理", "zh", "经理 · Manager"),
)
STAFF = tuple(p for p in PEOPLE if p.role is not None)


class OffsetClock:
    """The desk's clock in the sandbox: another clock plus an offset that only grows, kept in
    a file so a restarted sandbox never goes back in time."""

    def __init__(self, base: Clock = system_clock, keep: Path | None = None) -> None:
        self.base = base
        self.keep = keep
        self.offset = timedelta()
        if keep is not None and keep.is_file():
            with contextlib.suppress(ValueError):
                self.offset = timedelta(seconds=max(float(keep.read_text().strip()), 0.0))

    def __call__(self) -> datetime:
        return self.base() + self.offset

    def skip(self, delta: timedelta) -> None:
        """Move the desk's time forward by `delta`."""
        self.offset += delta
        if self.keep is not None:
            self.keep.parent.mkdir(parents=True, exist_ok=True)
            self.keep.write_text(f"{self.offset.total_seconds():.0f}\n")


def sandbox_settings(database_url: str, **extra: object) -> Settings:
    """The settings of the sandbox: its own database, the web group as the staff group."""
    values: dict[str, object] = {
        "database_url": database_url,
        "staff_group_chat_id": GROUP,
        "department_groups": "",
        "telegram_bot_token": "",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


class Sandbox:
    """The sandbox's desk, web channel, scheduler and page."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: OffsetClock,
        files: Path,
        secret: bytes | None = None,
        scheduler: bool = True,
    ) -> None:
        self.clock = clock
        services = bootstrap(settings, clock=clock)
        # the staff group lives on the web here, like every person of the sandbox
        services.desk = replace(services.desk, staff_channel=CHANNEL)
        self.services: Services = services
        self.sessions = Sessions(secret or secrets.token_bytes(32))
        self.web = WebChat(
            services,
            self.sessions,
            files,
            members={p.user_id: Member(p.user_id, p.name, p.language) for p in PEOPLE},
            groups={GROUP: frozenset(p.user_id for p in STAFF)},
            secure_cookie=False,  # plain http on 127.0.0.1
        )
        self.scheduler = DeskScheduler(
            services.db,
            services.desk,
            EFFECTS,
            settings.report_times,
            settings.sweep_seconds,
            on_work=self.web.written,
        )
        self.run_scheduler = scheduler

    # --- setting up ------------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Load the example estate into an empty registry and bring the staff in through real
        invitations (each only once); returns what was done, for the console."""
        done = []
        db, desk = self.services.db, self.services.desk
        with db.unit_of_work() as uow:
            if not uow.session.scalar(select(func.count()).select_from(Unit)):
                reports = [
                    import_units(uow.session, EXAMPLES / "units.csv"),
                    import_prices(uow.session, EXAMPLES / "prices.csv"),
                ]
                if not all(r.ok for r in reports):
                    raise RuntimeError("the example files are damaged")
                uow.commit()
                done.append("loaded the example estate")
        for persona in STAFF:
            with db.unit_of_work() as uow:
                if person_by_identity(uow.session, CHANNEL, persona.user_id) is not None:
                    continue
                invite = create_invite(
                    uow.session, persona.role or "", persona.department, self.clock()
                )
                code = invite.code
                uow.commit()
            # the same path as a person opening the invitation link
            handle_inbound(
                db,
                desk,
                Inbound(
                    channel=CHANNEL,
                    update_id=f"sandbox-join:{code[:20]}",
                    chat_id=persona.user_id,
                    chat_kind="private",
                    user_id=persona.user_id,
                    user_name=persona.name,
                    language_hint=persona.language,
                    text=f"/start {code}",
                ),
            )
            done.append(f"{persona.name} joined as {persona.role}")
        return done

    async def start(self) -> None:
        """Start delivering and, unless turned off, sweeping timers."""
        self.web.start()
        if self.run_scheduler:
            self.scheduler.start()

    async def stop(self) -> None:
        """Stop cleanly; what is not delivered stays in the outbox."""
        await self.scheduler.stop()
        await self.web.stop()

    def close(self) -> None:
        """Release the database."""
        self.services.close()

    # --- the page --------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The sandbox's ASGI app: the page, skip ahead, and the web channel's routes."""

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        routes = [
            Route("/", self.page, methods=["GET"]),
            Route("/sandbox/skip", self.skip, methods=["POST"]),
            Route("/sandbox/clock", self.now, methods=["GET"]),
            Route("/healthz", lambda _: PlainTextResponse("ok"), methods=["GET"]),
            *self.web.routes(),
        ]
        return Starlette(routes=routes, lifespan=lifespan)

    def desk_time(self) -> str:
        """The desk's time as people see it."""
        desk = self.services.desk
        return desk.local(desk.now()).strftime("%Y-%m-%d %H:%M %a")

    def panes(self) -> list[dict[str, object]]:
        """What the page shows: a pane per person and the staff group, each with the
        session token of its person (the page names nobody by id)."""
        mint = self.sessions.mint
        panes: list[dict[str, object]] = [
            {
                "key": p.key,
                "chat": "me",
                "title": f"{p.title} — {p.name}" if p.role else p.title,
                "hint": p.hint,
                "lang": p.language,
                "people": [{"label": p.name, "token": mint(p.user_id)}],
            }
            for p in PEOPLE
        ]
        panes.append(
            {
                "key": "group",
                "chat": GROUP,
                "title": "员工群 · Staff group",
                "hint": "按钮以所选员工身份按下 · buttons are pressed as the chosen person",
                "lang": "zh",
                "people": [
                    {"label": f"{p.name} ({p.title})", "token": mint(p.user_id)} for p in STAFF
                ],
            }
        )
        return panes

    async def page(self, _: Request) -> Response:
        """The sandbox page: a banner, the desk's clock, skip ahead, the panes."""
        template = (STATIC / "sandbox.html").read_text(encoding="utf-8")
        config = json.dumps({"panes": self.panes()}, ensure_ascii=False).replace("</", "<\\/")
        page = template.replace("__PANES__", config).replace("__NOW__", self.desk_time())
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def now(self, _: Request) -> Response:
        """The desk's time."""
        return JSONResponse({"now": self.desk_time()})

    async def skip(self, request: Request) -> Response:
        """Move the desk's clock ahead by 30 min, 2 h or 1 day, then run what fell due."""
        if request.headers.get("X-Propdesk-Request") != "1":
            return JSONResponse({"ok": False, "error": "missing X-Propdesk-Request"}, 403)
        try:
            minutes = int(json.loads(await request.body())["minutes"])
        except (ValueError, KeyError, TypeError):
            minutes = 0
        if minutes not in SKIPS:
            return JSONResponse(
                {"ok": False, "error": "只能前进 30、120 或 1440 分钟 · minutes: 30, 120 or 1440"},
                400,
            )
        self.clock.skip(timedelta(minutes=minutes))
        result = await self.scheduler.plan_and_sweep()
        self.web.written()
        log.info("sandbox: the desk's clock skipped %s ahead (%s)", SKIPS[minutes], result.counts)
        return JSONResponse({"ok": True, "now": self.desk_time(), "timers": result.counts})


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


def run_sandbox(listen: str, port: int, database_url: str) -> int:
    """Serve the sandbox until Ctrl+C (the console command `propdesk sandbox`)."""
    import asyncio
    import socket

    import uvicorn
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    folder = Path("var")
    if url.get_backend_name() == "sqlite" and url.database:
        folder = Path(url.database).resolve().parent
        folder.mkdir(parents=True, exist_ok=True)
    clock = OffsetClock(keep=folder / "sandbox.clock")
    sandbox = Sandbox(sandbox_settings(database_url), clock=clock, files=folder / "sandbox-files")
    try:
        for line in sandbox.prepare():
            print(f"sandbox: {line}")
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listen, port))
        sock.listen(128)  # a browser opened at once waits for the server instead of failing
        port = sock.getsockname()[1]
        host = f"[{listen}]" if ":" in listen else listen
        if not _loopback(listen):
            print(
                f"sandbox: WARNING: listening on {listen}, reachable from other machines; "
                "the sandbox has no sign-in, anyone who can reach it can act as anyone"
            )
        print(f"sandbox: the desk is at http://{host}:{port}/  (no token needed; Ctrl+C stops)")
        print("sandbox: it is a sandbox: the example estate, its own database, no real messages")
        # an open page keeps its event stream: Ctrl+C waits for it 2 s, not for ever
        config = uvicorn.Config(sandbox.app(), log_level="warning", timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except KeyboardInterrupt:  # uvicorn raises Ctrl+C again once it has stopped cleanly
            print("sandbox: stopped")
    finally:
        sandbox.close()
    return 0
