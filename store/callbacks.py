"""Callbacks (回访) after service (R20–R24): who is asked, the human call a poor rating opens,
and the record of each outcome."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, select, update
from sqlalchemy.orm import Session, object_session

from store import timers
from store.models import Callback, Order, OrderEvent
from store.price_list import SERVICE_CATEGORIES, is_service
from store.promises import policy_of

SURVEY = "callback_survey"  # subject = callback id: the bot asks the owner
CALL_OPENED = "callback_call"  # subject = callback id: agents get the call with Take
CALL_UNTAKEN = "callback_untaken"  # subject = callback id: the supervisor is told
RESULTS = ("satisfied", "average", "unsatisfied")
POOR = ("average", "unsatisfied")  # R22


def plan_after_acceptance(
    session: Session, order: Order, at: datetime, rng: random.Random | None = None
) -> Callback | None:
    """Schedule the callback survey of accepted work: every repair (R20); paid services so that
    at least the policy's share of the month's accepted ones are asked (R23), sampled at random
    beyond that."""
    policy = policy_of(session)
    if is_service(order.category):
        if not _sample_needed(session, order, at) and (rng or random).random() >= (
            policy.service_sample_share
        ):
            return None
        reason = "sample"
    else:
        reason = "routine"
    callback = Callback(order_id=order.id, reason=reason, method="survey", status="scheduled")
    callback.created_at = at
    session.add(callback)
    session.flush()
    due = policy.owner_time(policy.daytime(at + policy.callback_delay))
    timers.schedule(session, SURVEY, callback.id, due)
    return callback


def _sample_needed(session: Session, order: Order, at: datetime) -> bool:
    """Whether the month's share of sampled service orders would fall short without this one."""
    policy = policy_of(session)
    local = at.astimezone(policy.timezone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    accepted = session.scalar(
        select(func.count(func.distinct(OrderEvent.order_id)))
        .join(Order, Order.id == OrderEvent.order_id)
        .where(
            OrderEvent.action == "accept",
            OrderEvent.at >= month_start,
            Order.category.in_(SERVICE_CATEGORIES),
        )
    )
    sampled = session.scalar(
        select(func.count(func.distinct(Callback.order_id)))
        .join(Order, Order.id == Callback.order_id)
        .where(Callback.created_at >= month_start, Order.category.in_(SERVICE_CATEGORIES))
    )
    total = max(int(accepted or 0), 1)  # this order's accept event is already flushed
    return int(sampled or 0) < policy.service_sample_share * total


def open_call(session: Session, order: Order, reason: str, at: datetime) -> Callback | None:
    """A callback call for an agent to make now (R22); none if one is already open."""
    existing = session.scalar(
        select(Callback.id).where(
            and_(
                Callback.order_id == order.id,
                Callback.method == "call",
                Callback.status.in_(("open", "taken")),
            )
        )
    )
    if existing is not None:
        return None
    call = Callback(order_id=order.id, reason=reason, method="call", status="open")
    call.created_at = at
    session.add(call)
    session.flush()
    timers.schedule(session, CALL_OPENED, call.id, at)
    timers.schedule(session, CALL_UNTAKEN, call.id, at + policy_of(session).callback_untaken)
    return call


def has_call(session: Session, order_id: int) -> bool:
    """Whether a person already calls (or called) the owner back about this order."""
    return (
        session.scalar(
            select(Callback.id)
            .where(Callback.order_id == order_id, Callback.method == "call")
            .limit(1)
        )
        is not None
    )


def owner_answer(order: Order) -> str | None:
    """The owner's latest word on the work: a survey answer, else the sign-off rating."""
    session = object_session(order)
    answer = (
        session.scalar(
            select(Callback.result)
            .where(
                Callback.order_id == order.id,
                Callback.method == "survey",
                Callback.result.is_not(None),
            )
            .order_by(Callback.id.desc())
            .limit(1)
        )
        if session is not None
        else None
    )
    return answer or order.rating


def survey_asked(session: Session, callback: Callback, at: datetime) -> None:
    """The survey went out to the owner."""
    callback.status, callback.asked_at = "asked", at
    callback.version += 1
    session.flush()


def answer_survey(
    session: Session, callback: Callback, result: str, at: datetime
) -> Callback | None:
    """Record the owner's answer; a poor one opens a human call (R22), returned if so."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    callback.result, callback.status, callback.done_at = result, "answered", at
    callback.version += 1
    session.flush()
    if result in POOR:
        return open_call(session, callback.order, "rating", at)
    return None


def take_call(
    session: Session, callback_id: int, version: int, person_id: int, at: datetime
) -> bool:
    """Take an open call for oneself; only the first press wins."""
    result = session.execute(
        update(Callback)
        .where(
            Callback.id == callback_id,
            Callback.status == "open",
            Callback.version == version,
        )
        .values(status="taken", handled_by_id=person_id, taken_at=at, version=Callback.version + 1)
    )
    won = int(cast(CursorResult[Any], result).rowcount or 0) == 1
    if won:
        timers.cancel(session, callback_id, (CALL_UNTAKEN,), at)
        session.expire_all()
    return won


def finish_call(
    session: Session, callback: Callback, result: str, comment: str | None, at: datetime
) -> None:
    """Record the outcome of a call (R24)."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    callback.result, callback.comment = result, comment
    callback.status, callback.done_at = "done", at
    callback.version += 1
    session.flush()
