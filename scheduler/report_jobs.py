"""The report timers: the daily digest to managers (R52) and the monthly workbook to managers
and finance (R51), queued in the outbox of their staff chats. The reports are built in the
effect's `prepare` step, on a read-only snapshot, so the write lock is held only to queue them."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.desk import Desk
from handlers.i18n import translator
from handlers.messages import Outbound, Upload
from handlers.timed import Due, TimerEffect
from scheduler.digest import complaint_summary_text, daily_digest
from scheduler.plan import COMPLAINT_SUMMARY, DAILY_DIGEST, MONTHLY_REPORT
from store.models import OutboxMessage, Person, Timer
from store.staff import people_with_role, private_chats

DIGEST_READERS = ("manager",)
MONTHLY_READERS = ("manager", "finance")
Made = dict[str, list[Outbound]]  # language → the messages in it
Make = Callable[[Session, Desk, Timer, datetime, str], list[Outbound]]


def _languages(session: Session, roles: tuple[str, ...]) -> set[str]:
    return {person.language for person in people_with_role(session, *roles)}


def _queue(due: Due, people: list[Person], messages_in: Callable[[str], list[Outbound]]) -> None:
    """The messages of each reader's language, to every staff chat of the reader."""
    channel = due.desk.staff_channel
    readers: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        readers[person.language].append(person)
    for language, group in readers.items():
        messages = messages_in(language)
        for person in group:
            for chat_channel, chat_id in private_chats(due.session, person.id):
                if chat_channel != channel:  # reports are files: staff read them on Telegram
                    continue
                for message in messages:
                    message.chat_id = chat_id
                    due.session.add(
                        OutboxMessage(
                            channel=channel, chat_id=chat_id, payload=message.to_payload()
                        )
                    )


def _digest_day(timer: Timer) -> date:
    code = str(timer.subject_id)
    return date(int(code[:4]), int(code[4:6]), int(code[6:8]))


def _month(timer: Timer) -> str:
    return f"{timer.subject_id // 100:04d}-{timer.subject_id % 100:02d}"


def digest_messages(
    session: Session, desk: Desk, timer: Timer, now: datetime, language: str
) -> list[Outbound]:
    """The digest text, then its chart as a photo (a caption is too short for the text)."""
    day = _digest_day(timer)
    _ = translator(language)
    text, chart = daily_digest(session, day, desk.timezone, language, now)
    caption = _("Daily digest {day}").format(day=day.isoformat())
    return [
        Outbound("", text[:4000]),
        Outbound("", caption, upload=Upload("photo", f"digest-{day}.png", chart)),
    ]


def monthly_messages(
    session: Session, desk: Desk, timer: Timer, now: datetime, language: str
) -> list[Outbound]:
    """The month's workbook as a document with a one-line caption."""
    month = _month(timer)
    _ = translator(language)
    out = io.BytesIO()
    # openpyxl (and numpy through it) cost ~0.25 s to import: only a process that writes a
    # monthly report pays it, not every start of the bot
    from scheduler.monthly_report import write_monthly_workbook

    write_monthly_workbook(session, month, desk.timezone, language, out, now=now)
    caption = _(
        "Monthly report {month}: repairs and paid services, fee detail, arrears and callbacks."
    ).format(month=month)
    return [
        Outbound("", caption, upload=Upload("document", f"propdesk-{month}.xlsx", out.getvalue()))
    ]


def complaint_summary_messages(
    session: Session, desk: Desk, timer: Timer, now: datetime, language: str
) -> list[Outbound]:
    """R35: the month's complaint summary so far, as a message (the workbook has the sheet)."""
    return [Outbound("", complaint_summary_text(session, _month(timer), desk, now, language))]


def _prepared(
    make: Make, roles: tuple[str, ...]
) -> Callable[[Session, Desk, Timer, datetime], Made]:
    def prepare(session: Session, desk: Desk, timer: Timer, now: datetime) -> Made:
        return {lang: make(session, desk, timer, now, lang) for lang in _languages(session, roles)}

    return prepare


def _sender(make: Make, roles: tuple[str, ...]) -> Callable[[Due], None]:
    def send(due: Due) -> None:
        readers = people_with_role(due.session, *roles)
        made: dict[str, Any] = due.prepared if isinstance(due.prepared, dict) else {}

        def messages_in(language: str) -> list[Outbound]:
            ready = made.get(language)
            if isinstance(ready, list):
                return ready
            return make(due.session, due.desk, due.timer, due.now, language)  # a new reader

        _queue(due, readers, messages_in)

    return send


EFFECTS: dict[str, TimerEffect] = {
    DAILY_DIGEST: TimerEffect(
        _sender(digest_messages, DIGEST_READERS),
        prepare=_prepared(digest_messages, DIGEST_READERS),
    ),
    MONTHLY_REPORT: TimerEffect(
        _sender(monthly_messages, MONTHLY_READERS),
        prepare=_prepared(monthly_messages, MONTHLY_READERS),
    ),
    COMPLAINT_SUMMARY: TimerEffect(
        _sender(complaint_summary_messages, DIGEST_READERS),
        prepare=_prepared(complaint_summary_messages, DIGEST_READERS),
    ),
}
