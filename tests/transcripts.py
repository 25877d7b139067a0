"""One whole repair as people see it (issue 11, done-when): owner, supervisor, engineer, finance
and the staff group, on the real bot against the fake Bot API, written as Markdown.

Regenerate the checked-in files with `bin/transcripts` (tests/test_transcripts.py fails when
they differ from what the code says now)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from store.migrate import upgrade
from tests.fake_telegram import Call, FakeTelegram, TgChat, TgUser
from tests.harness import (
    MONDAY_MORNING,
    STAFF_GROUP,
    FakeClock,
    Owner,
    current,
    seed_examples,
    start_bot,
)
from tests.test_repair import PROFILES, TOMORROW

OUT = Path(__file__).resolve().parent.parent / "docs" / "transcripts"
GROUP = TgChat(id=STAFF_GROUP, type="supergroup", title="Staff")
SENDS = ("sendMessage", "sendPhoto", "sendDocument")
EDITS = ("editMessageText", "editMessageReplyMarkup", "editMessageCaption")


class FrozenClock(FakeClock):
    """The desk's clock standing still unless moved, so a transcript reads the same every run."""

    def __call__(self) -> datetime:
        return self._start + self._offset


@dataclass
class Counts:
    """Messages the bot sent into each chat during the repair (edits counted apart)."""

    sent: dict[str, int] = field(default_factory=dict)
    edited: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)  # answerCallbackQuery, by presser


@dataclass
class Recorder:
    """Reads what the bot sent since the last step, chat by chat, and writes it down."""

    fake: FakeTelegram
    chats: dict[int, str]
    lines: list[str] = field(default_factory=list)
    seen: int = 0
    counts: Counts = field(default_factory=Counts)

    def step(self, who: str, did: str) -> None:
        """Write down one action and everything the bot sent because of it."""
        self.lines.append(f"\n**{who}** {did}\n")
        calls = self.fake.calls[self.seen :]
        self.seen += len(calls)
        order = list(self.chats.values())
        found: list[tuple[str, Call]] = []
        for call in calls:
            if call.method == "answerCallbackQuery" and not call.failed:
                self.counts.answered[who] = self.counts.answered.get(who, 0) + 1
                if call.params.get("text"):  # a notice on the button (issue 11.5)
                    self.lines.append(f"- ⓘ *{who}* sees on the button: {call.params['text']}\n")
            if call.failed or call.method not in SENDS + EDITS:
                continue
            chat = self.chats.get(int(call.params.get("chat_id", 0)))
            if chat is not None:
                found.append((chat, call))
        # chats are delivered side by side: a fixed chat order (each chat's own order kept)
        for chat, call in sorted(found, key=lambda item: order.index(item[0])):
            bucket = self.counts.sent if call.method in SENDS else self.counts.edited
            bucket[chat] = bucket.get(chat, 0) + 1
            self.lines.append(_render(chat, call))

    def skip(self) -> None:
        """Forget what was sent so far (setting up the staff is not part of the repair)."""
        self.seen = len(self.fake.calls)


def _render(chat: str, call: Call) -> str:
    params = call.params
    text = str(params.get("text") or params.get("caption") or "")
    if call.method == "sendPhoto" and not text:
        text = "(photo)"
    verb = "✎ edits its message" if call.method in EDITS else "→"
    lines = text.splitlines() or ["(buttons only)"]
    quoted = "\n".join(f"    {line}" for line in lines)
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = markup.get("inline_keyboard") or []
    buttons = " ".join(f"[{b['text']}]" for row in rows for b in row)
    out = f"- {verb} *{chat}*:\n\n{quoted}\n"
    if buttons:
        out += f"\n    {buttons}\n"
    return out


def _button(
    fake: FakeTelegram, chat_id: int, action: str, contains: str = "", arg: str = ""
) -> tuple[Any, str]:
    """The newest message in a chat with a button doing `action` (and showing `contains`)."""
    for message in current(fake, chat_id):  # as they are now (edits applied)
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                parts = button["callback_data"].split("|")
                if len(parts) < 2 or parts[1] != action or contains not in button["text"]:
                    continue
                if not arg or parts[2:] == [arg]:
                    return message, button["callback_data"]
    raise AssertionError(f"no {action} button in chat {chat_id}")


async def press(person: Owner, action: str, contains: str = "", arg: str = "") -> None:
    """Press the newest button doing `action` (with `arg`, showing `contains`) in the chat."""
    message, data = _button(person.fake, person.chat_id, action, contains, arg)
    await person.press_data(data, message)


async def whole_repair(
    language: str, workdir: Path, db_url: str | None = None
) -> tuple[str, Counts]:
    """Run one repair from registration to the receipt; the Markdown transcript and counts
    (on `db_url`, an empty database, or a new SQLite file in `workdir`)."""
    db_url = db_url or f"sqlite:///{workdir / f'transcript-{language}.db'}"
    upgrade(db_url)
    clock = FrozenClock(MONDAY_MORNING)
    with FakeTelegram() as fake:
        bot = await start_bot(fake, db_url, clock, default_language=language)
        try:
            seed_examples(bot.services)
            return await _script(fake, bot, clock, language)
        finally:
            await bot.stop()


async def _script(
    fake: FakeTelegram, bot: Any, clock: FrozenClock, language: str
) -> tuple[str, Counts]:
    from store.staff import create_invite

    hint = "zh-hans" if language == "zh" else "en"
    owner_user = TgUser(5001 if language == "zh" else 5002, "伟" if language == "zh" else "Alice",
                        hint)
    staff_users = {
        "supervisor": TgUser(3701, "主管 赵" if language == "zh" else "Supervisor Zhao", hint),
        "engineer": TgUser(3702, "王师傅" if language == "zh" else "Wang", hint),
        "finance": TgUser(3703, "财务 徐" if language == "zh" else "Finance Xu", hint),
    }
    people: dict[str, Owner] = {}
    for role, user in staff_users.items():
        with bot.services.db.unit_of_work() as uow:
            dept = "engineering" if role in ("supervisor", "engineer") else None
            code = create_invite(uow.session, role, dept, clock()).code
            uow.commit()
        people[role] = Owner(fake, bot, user)
        await people[role].send(f"/start {code}")
    owner = Owner(fake, bot, owner_user)
    names = {"owner": "Owner", "supervisor": "Supervisor", "engineer": "Engineer",
             "finance": "Finance", "group": "Staff group"}
    chats = {owner_user.id: names["owner"], staff_users["engineer"].id: names["engineer"],
             STAFF_GROUP: names["group"], staff_users["supervisor"].id: names["supervisor"],
             staff_users["finance"].id: names["finance"]}
    rec = Recorder(fake, chats)
    rec.skip()
    name, room, phone = PROFILES[owner_user.id]

    o, sup, eng, fin = names["owner"], names["supervisor"], names["engineer"], names["finance"]
    zh = language == "zh"
    await owner.send("/start")
    rec.step(o, "sends `/start`")
    await owner.send(name)
    rec.step(o, f"types `{name}`")
    await owner.send(room)
    rec.step(o, f"types `{room}`")
    await owner.contact(phone)
    rec.step(o, "shares their phone number")
    for action, arg, what in (
        ("repair", "", "Report a repair"),
        ("where", "home", "inside the home"),
        ("cat", "plumbing", "plumbing"),
        ("item", "", "the first price-list item"),
    ):
        await press(owner, action, arg=arg)
        rec.step(o, f"presses *{what}*")
    problem = "厨房水龙头一直滴水" if zh else "The kitchen tap keeps dripping"
    await owner.send(problem)
    rec.step(o, f"types `{problem}`")
    for action, arg, what in (
        ("photos_done", "", "skip photos"),
        ("when", "book", "book a visit"),
        ("date", TOMORROW, "tomorrow"),
        ("slot", TOMORROW + "1000", "10:00-12:00"),
        ("phone", "mine", "use my phone"),
        ("quote", "agree", "agree to the price"),
        ("submit", "", "Submit"),
    ):
        await press(owner, action, arg=arg)
        rec.step(o, f"presses *{what}*")

    in_group = Owner(fake, bot, staff_users["supervisor"], chat=GROUP)
    await press(in_group, "assign")
    rec.step(sup, "presses *Assign* on the job card in the staff group")
    await press(people["supervisor"], "assignto", staff_users["engineer"].first_name)
    rec.step(sup, "chooses the engineer")
    engineer = people["engineer"]
    for action, what in (("depart", "On my way"), ("arrive", "Arrived"), ("complete", "Done"),
                         ("later", "Owner pays later")):
        await press(engineer, action)
        rec.step(eng, f"presses *{what}*")
    await press(owner, "accept")
    rec.step(o, "presses *Accept*")
    await press(owner, "rate", "😐")
    rec.step(o, "rates *average*")
    comment = "师傅很专业，但是来晚了" if zh else "Good work, but he came late"
    await owner.send(comment)
    rec.step(o, f"types `{comment}`")
    clock.advance(timedelta(hours=3))
    await finance_pays(people["finance"], "微信" if zh else "WeChat")
    rec.step(fin, "sends `/arrears`, presses *Mark paid* and *WeChat Pay*")
    header = (
        f"# One whole repair ({'中文' if zh else 'English'})\n\n"
        "Generated by `bin/transcripts` from the test harness (tests/transcripts.py): the real "
        "bot against the fake Bot API, Telegram. Do not edit by hand; "
        "tests/test_transcripts.py checks it.\n"
    )
    counts = rec.counts
    table = [
        "",
        "## Messages in this repair",
        "",
        "| chat | sent | edited | button presses answered |",
        "|---|---|---|---|",
    ]
    for chat in (o, eng, names["group"], sup, fin):
        table.append(
            f"| {chat} | {counts.sent.get(chat, 0)} | {counts.edited.get(chat, 0)} "
            f"| {counts.answered.get(chat, 0)} |"
        )
    return header + "\n".join(rec.lines) + "\n".join(table) + "\n", counts


async def finance_pays(person: Owner, method: str) -> None:
    """Finance opens the arrears list and marks the bill paid in full."""
    await person.send("/arrears")
    await press(person, "paybill")
    await press(person, "paymethod", method)


def main(argv: list[str]) -> int:
    """Write docs/transcripts/repair.<language>.md for both languages (or into argv[0])."""
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for language in ("zh", "en"):
            text, counts = asyncio.run(whole_repair(language, Path(tmp)))
            (out / f"repair.{language}.md").write_text(text, encoding="utf-8")
            print(language, "sent", counts.sent, "edited", counts.edited,
                  "answered", counts.answered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
