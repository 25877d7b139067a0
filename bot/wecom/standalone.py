"""The desk with no Telegram at all: owners on the WeChat Official Account, staff on WeCom.

One ASGI app serves both callbacks (and /healthz); the scheduler that runs inside the
Telegram application otherwise runs here, waking both senders when timers write messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.bootstrap import Services
from bot.wechat.app import WeChatDesk
from bot.wechat.webhook import wechat_endpoint
from bot.wecom.app import WeComDesk
from bot.wecom.webhook import wecom_endpoint
from scheduler.effects import EFFECTS
from scheduler.service import DeskScheduler

log = logging.getLogger("propdesk")


def channels_app(wecom: WeComDesk, wechat: WeChatDesk | None) -> Starlette:
    """Starlette app with the WeCom callback, the WeChat webhook if on, and GET /healthz."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(wecom.settings.wecom_path, wecom_endpoint(wecom), methods=["GET", "POST"]),
    ]
    if wechat is not None:
        path = wechat.settings.wechat_path
        routes.append(Route(path, wechat_endpoint(wechat), methods=["GET", "POST"]))
    return Starlette(routes=routes)


def channels_line(services: Services) -> str:
    """Which channels are on, for the start-up log."""
    settings = services.settings
    owners = f"WeChat Official Account at {settings.wechat_path}" if settings.wechat_enabled else ""
    return (
        "propdesk is running without Telegram: owners on "
        f"{owners or 'no channel (set PROPDESK_WECHAT_*)'}, staff on WeCom at "
        f"{settings.wecom_path}, listening on {settings.webhook_listen}:{settings.webhook_port}"
    )


async def serve_without_telegram(services: Services) -> None:
    """Run until SIGINT/SIGTERM: both channels, the scheduler and one ASGI server."""
    settings = services.settings
    wecom = WeComDesk(services)
    wechat = WeChatDesk(services) if settings.wechat_enabled else None
    if wechat is not None:
        wecom.also_notify.append(wechat.sender.notify)
        wechat.also_notify.append(wecom.sender.notify)

    def wake() -> None:
        wecom.written()

    scheduler = (
        DeskScheduler(
            services.db,
            services.desk,
            EFFECTS,
            settings.report_times,
            settings.sweep_seconds,
            on_work=wake,
        )
        if settings.scheduler_enabled
        else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    wecom.start()
    if wechat is not None:
        wechat.start()
    if scheduler is not None:
        scheduler.start()
    server = uvicorn.Server(
        uvicorn.Config(
            channels_app(wecom, wechat),
            host=settings.webhook_listen,
            port=settings.webhook_port,
            log_level="info",
        )
    )
    server_task = asyncio.create_task(server.serve())
    log.info("%s; press Ctrl+C to stop", channels_line(services))
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await server_task
        if scheduler is not None:
            await scheduler.stop()
        await wecom.stop()
        if wechat is not None:
            await wechat.stop()
