"""The promises the desk keeps with timers (R3, R11, R20–R27, R33): which timer each change of
an order or bill starts or cancels, in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from store import timers
from store.board import URGENT_ARRIVAL as ON_SITE_WITHIN
from store.models import Bill, Order, OutboxMessage
from store.order_states import OrderAction

# timers about an order (subject = order id)
REANNOUNCE = "job_reannounce"
UNCLAIMED = "job_unclaimed"
URGENT_ARRIVAL = "urgent_arrival"
VISIT_ENGINEER = "visit_engineer"
VISIT_OWNER = "visit_owner"
DONE_REMINDER = "done_reminder"
DONE_AUTO_ACCEPT = "done_auto_accept"
# timers about a bill (subject = bill id)
PAYMENT_REMINDER = "payment_reminder"
PAYMENT_FOLLOW_UP = "payment_follow_up"

WAITING_KINDS = (REANNOUNCE, UNCLAIMED)
VISIT_KINDS = (URGENT_ARRIVAL, VISIT_ENGINEER, VISIT_OWNER)
DONE_KINDS = (DONE_REMINDER, DONE_AUTO_ACCEPT)
ORDER_KINDS = WAITING_KINDS + VISIT_KINDS + DONE_KINDS
BILL_KINDS = (PAYMENT_REMINDER, PAYMENT_FOLLOW_UP)


@dataclass(frozen=True)
class TimerPolicy:
    """Every number behind the timers; defaults follow the company manuals."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    reannounce: timedelta = timedelta(minutes=10)
    reannounce_urgent: timedelta = timedelta(minutes=5)
    unclaimed_alert: timedelta = timedelta(minutes=30)
    unclaimed_alert_urgent: timedelta = timedelta(minutes=10)
    urgent_arrival: timedelta = ON_SITE_WITHIN  # R3
    engineer_before_visit: timedelta = timedelta(minutes=30)
    owner_evening: time = time(19, 0)  # the owner's reminder the evening before a visit
    done_reminder: timedelta = timedelta(hours=24)
    done_auto_accept: timedelta = timedelta(hours=72)
    callback_delay: timedelta = timedelta(hours=2)  # R20
    callback_from: time = time(9, 0)  # surveys go out in the daytime only
    callback_until: time = time(20, 0)
    callback_untaken: timedelta = timedelta(hours=1)  # R22
    service_sample_share: float = 0.3  # R23
    payment_first: time = time(20, 0)  # R26: the same evening
    payment_every: timedelta = timedelta(days=3)  # R27
    payment_max: int = 5
    quiet_start: time = time(21, 0)  # owner-facing messages wait for the morning
    quiet_end: time = time(8, 0)
    complaint_classify: timedelta = timedelta(minutes=30)  # business time until supervisors hear
    complaint_progress: timedelta = timedelta(hours=4)  # R33
    complaint_progress_reminder: timedelta = timedelta(hours=3, minutes=30)
    complaint_auto_close: timedelta = timedelta(hours=72)  # no answer: taken as resolved

    def is_quiet(self, moment: datetime) -> bool:
        """Whether a moment falls in the owners' quiet hours."""
        clock = moment.astimezone(self.timezone).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= clock < self.quiet_end
        return clock >= self.quiet_start or clock < self.quiet_end

    def owner_time(self, moment: datetime) -> datetime:
        """`moment`, or the end of the quiet hours it falls in."""
        if not self.is_quiet(moment):
            return moment
        morning = self.at_local(moment, self.quiet_end)
        return morning if morning > moment else self.at_local(moment, self.quiet_end, days=1)

    def daytime(self, moment: datetime) -> datetime:
        """`moment` if it falls in the callback hours, else the next time they begin."""
        local = moment.astimezone(self.timezone)
        if self.callback_from <= local.time() < self.callback_until:
            return moment
        days = 1 if local.time() >= self.callback_until else 0
        return self.at_local(moment, self.callback_from, days=days)

    def days_later(self, moment: datetime, days: timedelta) -> datetime:
        """`moment` moved by whole days on the local calendar: 20:00 stays 20:00 across a
        daylight-saving change, where adding 72 hours would drift by one."""
        local = moment.astimezone(self.timezone) + days  # same tzinfo: wall-clock arithmetic
        return local.astimezone(UTC)

    def at_local(self, moment: datetime, clock: time, days: int = 0) -> datetime:
        """The local `clock` time on the day of `moment` (plus `days`)."""
        local = moment.astimezone(self.timezone) + timedelta(days=days)
        return datetime.combine(local.date(), clock, tzinfo=self.timezone)


DEFAULT_POLICY = TimerPolicy()
POLICY_KEY = "timer_policy"


def policy_of(session: Session) -> TimerPolicy:
    """The timer policy the unit of work was opened with (the default otherwise)."""
    policy = session.info.get(POLICY_KEY)
    return policy if isinstance(policy, TimerPolicy) else DEFAULT_POLICY


# --- orders ---------------------------------------------------------------------------------


def order_waiting(session: Session, order: Order, at: datetime, *, new: bool) -> None:
    """An order waits for someone to take it: re-announce it, then tell the supervisor; a new
    urgent order also starts the 30-minute on-site promise (R3) and a booked one the owner's
    reminder the evening before."""
    policy = policy_of(session)
    urgent = order.urgent
    again = policy.reannounce_urgent if urgent else policy.reannounce
    alert = policy.unclaimed_alert_urgent if urgent else policy.unclaimed_alert
    timers.schedule(session, REANNOUNCE, order.id, at + again)
    timers.schedule(session, UNCLAIMED, order.id, at + alert)
    if new and urgent:
        timers.schedule(session, URGENT_ARRIVAL, order.id, order.created_at + policy.urgent_arrival)
    if new:
        _owner_visit_reminder(session, order, at)


CARD_CHECK = timedelta(minutes=1)  # how often a re-post looks again while its card is queued


def reannounce_at(session: Session, order: Order, now: datetime) -> datetime | None:
    """When the "still waiting" re-post of an unclaimed order is due: `reannounce` after its
    card reached the group, not after the order was made (a busy group may take minutes to
    get it); None means now. While the card is still queued, look again shortly."""
    policy = policy_of(session)
    again = policy.reannounce_urgent if order.urgent else policy.reannounce
    card = session.get(OutboxMessage, order.card_outbox_id) if order.card_outbox_id else None
    if card is None or card.status == "failed":
        return None
    if card.sent_at is None:
        return now + min(again, CARD_CHECK)
    due = card.sent_at + again
    return due if due > now else None


def order_taken(session: Session, order: Order, at: datetime) -> None:
    """Someone took the order: the waiting alarms stop; a booked visit gets its reminder."""
    timers.cancel(session, order.id, WAITING_KINDS, at)
    _engineer_visit_reminder(session, order, at)


def order_rebooked(session: Session, order: Order, at: datetime) -> None:
    """The visit moved (R7): its reminders move with it; it is no longer a come-now job."""
    timers.cancel(session, order.id, VISIT_KINDS, at)
    _engineer_visit_reminder(session, order, at)
    _owner_visit_reminder(session, order, at)


def after_action(session: Session, order: Order, action: OrderAction, at: datetime) -> None:
    """Start or cancel the order's timers after a state change."""
    policy = policy_of(session)
    if action in (OrderAction.ARRIVE, OrderAction.NOT_HOME):
        timers.cancel(session, order.id, VISIT_KINDS, at)
    elif action is OrderAction.RELEASE:
        timers.cancel(session, order.id, (VISIT_ENGINEER,), at)
        order_waiting(session, order, at, new=False)
    elif action is OrderAction.COMPLETE:
        timers.cancel(session, order.id, VISIT_KINDS, at)
        timers.schedule(
            session, DONE_REMINDER, order.id, policy.owner_time(at + policy.done_reminder)
        )
        timers.schedule(session, DONE_AUTO_ACCEPT, order.id, at + policy.done_auto_accept)
    elif action in (OrderAction.ACCEPT, OrderAction.REJECT):
        timers.cancel(session, order.id, DONE_KINDS, at)
    elif action in (OrderAction.CANCEL, OrderAction.DECLINE, OrderAction.CLOSE):
        timers.cancel(session, order.id, ORDER_KINDS, at)


def _engineer_visit_reminder(session: Session, order: Order, at: datetime) -> None:
    if order.urgent or order.visit_start is None or order.assignee_id is None:
        return
    due = order.visit_start - policy_of(session).engineer_before_visit
    if due > at:
        timers.schedule(session, VISIT_ENGINEER, order.id, due)


def _owner_visit_reminder(session: Session, order: Order, at: datetime) -> None:
    if order.urgent or order.visit_start is None:
        return
    policy = policy_of(session)
    due = policy.at_local(order.visit_start, policy.owner_evening, days=-1)
    if due > at:  # booked for tomorrow after this evening: the booking itself told them
        timers.schedule(session, VISIT_OWNER, order.id, policy.owner_time(due))


# --- bills (R26, R27) -------------------------------------------------------------------------


def bill_opened(session: Session, bill: Bill, at: datetime) -> None:
    """An unpaid bill gets its first friendly reminder the same evening."""
    if bill.status != "unpaid":
        return
    policy = policy_of(session)
    due = policy.at_local(at, policy.payment_first)
    if due <= at:
        due = at + timedelta(minutes=30)
    timers.schedule(session, PAYMENT_REMINDER, bill.id, policy.owner_time(due), {"n": 1})


def next_payment_reminder(session: Session, bill: Bill, sent: int, at: datetime) -> None:
    """After reminder `sent`: the next one in a few days, or customer service follows up."""
    policy = policy_of(session)
    due = policy.owner_time(policy.days_later(at, policy.payment_every))
    if sent < policy.payment_max:
        timers.schedule(session, PAYMENT_REMINDER, bill.id, due, {"n": sent + 1})
    else:
        timers.schedule(session, PAYMENT_FOLLOW_UP, bill.id, due)


def bill_paid(session: Session, bill: Bill, at: datetime) -> None:
    """The moment a bill is paid, its reminders stop (R27)."""
    timers.cancel(session, bill.id, BILL_KINDS, at)
