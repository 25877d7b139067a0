"""The sandbox in a real browser (issue 12): Debian's chromium driven by Playwright, one
browser for the module. Skipped only when /usr/bin/chromium is absent (CI installs it).

Screenshots (looked at by people, not asserted): the whole page after a reload and after a
claim, and each pane in both languages, in $PROPDESK_SCREENSHOTS if set (CI sets it to
artifacts/screenshots and keeps that folder), else under pytest's temporary folder:
/tmp/pytest-of-$USER/pytest-current/screenshots (popen-gwN/screenshots under xdist)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.webchat.sandbox import PEOPLE
from tests.harness import FakeClock
from tests.webchat_harness import PNG, Desk, running_sandbox

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
TIMEOUT = 20_000  # ms: the page waits for the outbox, not a fixed time


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (kept after the run: CI's artifacts or pytest's basetemp)."""
    chosen = os.environ.get("PROPDESK_SCREENSHOTS", "").strip()
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module's tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def sandbox(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Desk]:
    """The sandbox served from a thread of its own (the test drives the browser)."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        async with running_sandbox(db_url, clock, tmp_path / "files") as desk:
            box["desk"] = desk
            ready.set()
            await box["stop"].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60), "the sandbox did not start"
    try:
        yield box["desk"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        loop.close()


def say(page: Any, pane: str, words: str) -> None:
    """Type into a pane and send."""
    page.fill(f"#pane-{pane} input.text", words)
    page.press(f"#pane-{pane} input.text", "Enter")


def shows(page: Any, pane: str, words: str) -> None:
    """Wait until the pane shows a message from the desk containing `words`."""
    from playwright.sync_api import expect

    expect(page.locator(f"#pane-{pane} .msg.desk", has_text=words).last).to_be_visible(
        timeout=TIMEOUT
    )


def click(page: Any, pane: str, label: str) -> None:
    """Press the newest button with `label` in a pane."""
    page.locator(f"#pane-{pane} button.choice", has_text=label).last.click()


def test_the_page_loads_reloads_mid_dialog_and_skips_ahead(
    browser: Any, sandbox: Desk, tmp_path: Path, shots: Path
) -> None:
    """Eight panes and the sandbox banner; the owner starts registering; after a reload the
    pane shows the dialog where it was (caught up from the outbox, nothing sent again);
    "+2 h" moves the desk's clock."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        reload_in_the_browser(page, sandbox, shots)
    finally:
        page.close()


def reload_in_the_browser(page: Any, sandbox: Desk, shots: Path) -> None:
    """The steps of the test above."""
    from playwright.sync_api import expect

    page.goto(sandbox.base_url + "/")
    expect(page.locator("header.banner")).to_contain_text("SANDBOX")
    expect(page.locator(".pane")).to_have_count(8)
    expect(page.locator('.pane-status[data-state="live"]')).to_have_count(8, timeout=TIMEOUT)
    shows(page, "engineer", "欢迎加入")
    shows(page, "supervisor", "Welcome to the team")
    say(page, "owner", "/start")
    shows(page, "owner", "请问您的姓名是")
    say(page, "owner", "张伟")
    shows(page, "owner", "请问您住在哪一户")

    page.reload()
    expect(page.locator("#pane-owner .pane-status")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT
    )
    shows(page, "owner", "请问您住在哪一户")
    expect(page.locator("#pane-owner .msg.desk", has_text="请问您住在哪一户")).to_have_count(1)
    say(page, "owner", "3-2-1201")
    shows(page, "owner", "请问您的手机号码")

    before = page.inner_text("#desk-time")
    page.click("button[data-skip='120']")
    expect(page.locator("#desk-time")).not_to_have_text(before, timeout=TIMEOUT)
    page.screenshot(path=str(shots / "sandbox-reloaded.png"), full_page=True)


def test_a_repair_with_a_photo_is_claimed_and_the_owner_sees_it_live(
    browser: Any, sandbox: Desk, tmp_path: Path, shots: Path
) -> None:
    """R1, R6: the owner pane registers (the phone typed into the phone field the share
    button becomes on the web) and files a public repair with a photo; the engineer claims it
    in the staff group pane; the owner pane hears who is coming without a reload; the
    engineer's pane shows the photo. Then each pane is photographed, every person switches
    language (/language) and each pane is photographed again."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        claim_in_the_browser(page, sandbox, tmp_path, shots)
        each_pane_in_both_languages(page, shots)
    finally:
        page.close()


def claim_in_the_browser(page: Any, sandbox: Desk, tmp_path: Path, shots: Path) -> None:
    """The steps of the test above."""
    page.goto(sandbox.base_url + "/")
    for words, answer in (
        ("/start", "请问您的姓名是"),
        ("张伟", "请问您住在哪一户"),
        ("3-2-1201", "请问您的手机号码"),
    ):
        say(page, "owner", words)
        shows(page, "owner", answer)
    phone = page.locator("#pane-owner form.contact input.phone").last
    phone.fill("13812345678")  # the share button's place: a phone field
    page.locator("#pane-owner form.contact button.share", has_text="发送我的手机号").last.click()
    shows(page, "owner", "您好，请问有什么可以帮您")
    for label, answer in (
        ("我要报修", "维修的位置"),
        ("公共区域", "哪一类问题"),
        ("电路", "描述"),
    ):
        click(page, "owner", label)
        shows(page, "owner", answer)
    say(page, "owner", "楼道灯不亮了")
    shows(page, "owner", "照片")
    photo = tmp_path / "lamp.png"
    photo.write_bytes(PNG)
    page.set_input_files("#pane-owner input.photo", str(photo))
    shows(page, "owner", "照片已收到")
    click(page, "owner", "继续")
    click(page, "owner", "立即")  # waits for the button to be there
    shows(page, "owner", "号码")
    click(page, "owner", "138****5678")
    click(page, "owner", "提交")
    shows(page, "owner", "R-2026")

    shows(page, "group", "楼道灯不亮了")
    click(page, "group", "接单")  # as 王师傅, the first staff member in the group pane
    shows(page, "group", "王师傅")
    shows(page, "owner", "王师傅")  # live: no reload
    shows(page, "engineer", "138 1234 5678")  # phones read in groups (issue 11.10)
    engineer_photo = page.locator("#pane-engineer img.photo").last
    engineer_photo.wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1",
        arg=engineer_photo.element_handle(),
        timeout=TIMEOUT,
    )
    page.screenshot(path=str(shots / "sandbox-claimed.png"), full_page=True)


def each_pane_in_both_languages(page: Any, shots: Path) -> None:
    """A screenshot of each pane as it is, then each person switches to the other language
    (the desk answers in it) and another; the staff group reads the desk's default language."""
    page.locator("#pane-group").screenshot(path=str(shots / "pane-group.zh.png"))
    for persona in PEOPLE:
        key, language = persona.key, persona.language
        other = "en" if language == "zh" else "zh"
        pane = page.locator(f"#pane-{key}")
        pane.screenshot(path=str(shots / f"pane-{key}.{language}.png"))
        say(page, key, "/language")
        shows(page, key, "Choose your language" if language == "en" else "请选择")
        click(page, key, "English" if other == "en" else "中文")
        shows(page, key, "Language set to English" if other == "en" else "已切换为中文")
        pane.screenshot(path=str(shots / f"pane-{key}.{other}.png"))
    expected = {f"pane-{p.key}.{lang}.png" for p in PEOPLE for lang in ("zh", "en")}
    assert expected <= {path.name for path in shots.iterdir()}


@pytest.fixture
def production(fake_tg: Any, db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Any]:
    """The Telegram desk with the owners' web chat, as `propdesk run` serves it, from a thread
    of its own; 张伟 of 3-2-1201 registered on Telegram."""
    from tests.fake_web import reserve_port, start_web, web_settings
    from tests.harness import seed_examples, start_bot

    ready = threading.Event()
    box: dict[str, Any] = {}
    sock = reserve_port()

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        bot = await start_bot(fake_tg, db_url, clock, **web_settings(tmp_path / "files", sock))
        seed_examples(bot.services)
        bot.web = await start_web(bot, sock)
        box["bot"] = bot
        ready.set()
        try:
            await box["stop"].wait()
        finally:
            await bot.web.stop()
            await bot.stop()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60), "the desk did not start"
    try:
        yield box["bot"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        loop.close()


def sign_in_link(bot: Any) -> str:
    """What /web sends 张伟: a fresh one-time link (made as the handler makes it)."""
    from sqlalchemy import select

    from handlers.web_sign_in import sign_in_link as link_of
    from store.models import Unit
    from store.people import register_owner
    from store.web_sign_in import new_sign_in

    with bot.services.db.unit_of_work() as uow:
        unit = uow.session.scalars(select(Unit).where(Unit.code == "3-2-1201")).one()
        person = register_owner(
            uow.session, channel="telegram", external_id="5001", name="张伟", unit=unit,
            phone="+8613812345678", verified=True, language="zh",
        )  # fmt: skip
        token = new_sign_in(uow.session, person.id, "telegram", bot.services.clock())
        uow.commit()
    return link_of(bot.services.settings.web_chat_url, token)


def test_a_sign_in_link_opened_in_the_browser(browser: Any, production: Any, shots: Path) -> None:
    """Issue 12.3: the link from /web opens the chat signed in (the greeting names the owner,
    the token is gone from the address bar, the cookie is out of the page's reach); the
    same link in another browser is refused with the line that says to send /web again."""
    from playwright.sync_api import expect

    link = sign_in_link(production)
    first = browser.new_context()
    try:
        page = first.new_page()
        page.goto(link)
        shows(page, "me", "您已以 张伟 的身份登录")
        assert "#" not in page.url
        assert page.evaluate("document.cookie") == ""  # HttpOnly
        click(page, "me", "菜单")
        shows(page, "me", "请问有什么可以帮您")
        page.screenshot(path=str(shots / "web-signed-in.png"), full_page=True)
    finally:
        first.close()
    second = browser.new_context()
    try:
        page = second.new_page()
        page.goto(link)
        expect(page.locator("#pane-me .msg.note")).to_contain_text("/web", timeout=TIMEOUT)
        expect(page.locator("#pane-me .msg.desk")).to_have_count(0)
    finally:
        second.close()
