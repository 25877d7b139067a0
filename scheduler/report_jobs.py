"""The report timers: the daily digest to managers (R52) and the monthly workbook to managers
and finance (R51), queued in the outbox of their staff chats."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from datetime import date

from handlers.i18n import translator
from handlers.messages import Outbound, Upload
from handlers.timed import Due, TimerEffect
from scheduler.digest import daily_digest
from scheduler.monthly_report import write_monthly_workbook
from scheduler.plan import DAILY_DIGEST, MONTHLY_REPORT
from store.models import OutboxMessage, Person
from store.staff import people_with_role, private_chats


def _by_language(people: list[Person]) -> dict[str, list[Person]]:
    groups: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        groups[person.language].append(person)
    return groups


def _queue(due: Due, people: list[Person], make: Callable[[str], list[Outbound]]) -> None:
    """The messages made once per language, to every staff chat of the people who read it."""
    channel = due.desk.staff_channel
    for language, readers in _by_language(people).items():
        messages = make(language)
        for person in readers:
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


def send_daily_digest(due: Due) -> None:
    """Yesterday's figures, then the chart, to every manager."""
    managers = people_with_role(due.session, "manager")
    if not managers:
        return
    code = str(due.timer.subject_id)
    day = date(int(code[:4]), int(code[4:6]), int(code[6:8]))

    def make(language: str) -> list[Outbound]:
        _ = translator(language)
        text, chart = daily_digest(due.session, day, due.desk.timezone, language, due.now)
        caption = _("Daily digest {day}").format(day=day.isoformat())
        return [
            Outbound("", text[:4000]),  # a photo caption is too short for the whole digest
            Outbound("", caption, upload=Upload("photo", f"digest-{day}.png", chart)),
        ]

    _queue(due, managers, make)


def send_monthly_report(due: Due) -> None:
    """Last month's workbook to managers and finance."""
    readers = people_with_role(due.session, "manager", "finance")
    if not readers:
        return
    code = due.timer.subject_id
    month = f"{code // 100:04d}-{code % 100:02d}"

    from scheduler.monthly_report import write_monthly_workbook

    def make(language: str) -> list[Outbound]:
        _ = translator(language)
        out = io.BytesIO()
        write_monthly_workbook(due.session, month, due.desk.timezone, language, out, now=due.now)
        caption = _(
            "Monthly report {month}: repairs and paid services, fee detail, arrears and callbacks."
        ).format(month=month)
        upload = Upload("document", f"propdesk-{month}.xlsx", out.getvalue())
        return [Outbound("", caption, upload=upload)]

    _queue(due, readers, make)


EFFECTS: dict[str, TimerEffect] = {
    DAILY_DIGEST: TimerEffect(send_daily_digest),
    MONTHLY_REPORT: TimerEffect(send_monthly_report),
}
