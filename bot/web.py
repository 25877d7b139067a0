"""The ASGI app that hosts the webhooks of Telegram and WeChat."""

from __future__ import annotations

import hmac
import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.telegram.app import TelegramDesk
from bot.webchat.app import WebChat
from bot.wechat.app import WeChatDesk
from bot.wechat.webhook import wechat_endpoint
from bot.wecom.app import WeComDesk
from bot.wecom.webhook import wecom_endpoint

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000  # Telegram updates are small; anything bigger is not from Telegram


def webhook_app(
    desk: TelegramDesk,
    path: str = "/telegram",
    wechat: WeChatDesk | None = None,
    wecom: WeComDesk | None = None,
    webchat: WebChat | None = None,
) -> Starlette:
    """Starlette app: POST Telegram updates to `path`; GET /healthz for load balancers;
    with `wechat`, the WeChat webhook (GET verification, POST messages) at its own path."""

    async def telegram_update(request: Request) -> Response:
        secret = desk.services.settings.webhook_secret
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, desk.application.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("bad update", status_code=400)
        # answer only after the update is committed: if we die first, Telegram delivers it again
        application = desk.application
        await application.update_processor.process_update(
            update, application.process_update(update)
        )
        confirmations = desk.confirmations
        if confirmations.take_failed([update.update_id]):  # not committed: Telegram retries
            confirmations.trouble(1, "webhook requests are answered 503")
            return PlainTextResponse("not committed, send it again", status_code=503)
        confirmations.fine()
        return Response(status_code=200)

    async def healthz(_: Request) -> Response:
        # a load balancer should stop sending to a desk that cannot store what it is sent
        from starlette.concurrency import run_in_threadpool

        from store.db import DatabaseNotWritable

        try:
            await run_in_threadpool(desk.services.db.check_writable)
        except DatabaseNotWritable as exc:
            return PlainTextResponse(f"database not writable: {exc.reason}", status_code=503)
        return PlainTextResponse("ok")

    routes = [
        Route(path, telegram_update, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if wechat is not None:
        wechat_path = wechat.settings.wechat_path
        routes.append(Route(wechat_path, wechat_endpoint(wechat), methods=["GET", "POST"]))
    if wecom is not None:  # the WeCom app's callback URL (staff)
        routes.append(
            Route(wecom.settings.wecom_path, wecom_endpoint(wecom), methods=["GET", "POST"])
        )
    # owners in the browser: the page, its messages and their stream
    browser = webchat.routes() if webchat is not None else []
    return Starlette(routes=[*routes, *browser])


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL, where the app listens."""
    from urllib.parse import urlparse

    return urlparse(url).path or "/telegram"
