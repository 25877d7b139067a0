"""The work-order state machine: pure functions that refuse illegal transitions (R50)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where a work order is in its life."""

    SUBMITTED = "submitted"  # waiting for someone to claim it
    CLAIMED = "claimed"  # an engineer took it
    ON_THE_WAY = "on_the_way"
    ARRIVED = "arrived"
    QUOTED = "quoted"  # on-site quote waiting for the owner's yes (R5)
    IN_PROGRESS = "in_progress"
    DONE = "done"  # waiting for the owner's sign-off (R9)
    ACCEPTED = "accepted"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    """Something a person does to an order."""

    CLAIM = "claim"
    RELEASE = "release"
    DEPART = "depart"
    ARRIVE = "arrive"
    NOT_HOME = "not_home"
    QUOTE = "quote"
    AGREE = "agree"
    DECLINE = "decline"
    START = "start"
    COMPLETE = "complete"
    ACCEPT = "accept"
    REJECT = "reject"
    CLOSE = "close"
    CANCEL = "cancel"


S, A = OrderStatus, OrderAction

TRANSITIONS: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.SUBMITTED, A.CLAIM): S.CLAIMED,
    (S.SUBMITTED, A.CANCEL): S.CANCELLED,
    (S.CLAIMED, A.RELEASE): S.SUBMITTED,
    (S.CLAIMED, A.DEPART): S.ON_THE_WAY,
    (S.CLAIMED, A.ARRIVE): S.ARRIVED,
    (S.CLAIMED, A.CANCEL): S.CANCELLED,
    (S.ON_THE_WAY, A.ARRIVE): S.ARRIVED,
    (S.ON_THE_WAY, A.RELEASE): S.SUBMITTED,
    (S.ON_THE_WAY, A.NOT_HOME): S.CLAIMED,
    (S.ON_THE_WAY, A.CANCEL): S.CANCELLED,
    (S.ARRIVED, A.NOT_HOME): S.CLAIMED,
    (S.ARRIVED, A.QUOTE): S.QUOTED,
    (S.ARRIVED, A.START): S.IN_PROGRESS,
    (S.ARRIVED, A.COMPLETE): S.DONE,
    (S.ARRIVED, A.RELEASE): S.SUBMITTED,
    (S.QUOTED, A.AGREE): S.IN_PROGRESS,
    (S.QUOTED, A.DECLINE): S.CLOSED,
    (S.IN_PROGRESS, A.COMPLETE): S.DONE,
    (S.DONE, A.ACCEPT): S.ACCEPTED,
    (S.DONE, A.REJECT): S.CLOSED,
    (S.ACCEPTED, A.CLOSE): S.CLOSED,
}

FINAL: frozenset[OrderStatus] = frozenset({S.CLOSED, S.CANCELLED})
OPEN: frozenset[OrderStatus] = frozenset(set(OrderStatus) - FINAL - {S.ACCEPTED})


class IllegalTransition(ValueError):
    """An action that the order's current status does not allow."""

    def __init__(self, status: OrderStatus, action: OrderAction) -> None:
        super().__init__(f"cannot {action.value} an order that is {status.value}")
        self.status = status
        self.action = action


def next_status(status: OrderStatus, action: OrderAction) -> OrderStatus:
    """The status after `action`, or IllegalTransition if the action is not allowed now."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(status, action) from None


def allowed_actions(status: OrderStatus) -> frozenset[OrderAction]:
    """Every action the status allows."""
    return frozenset(a for (s, a) in TRANSITIONS if s == status)
