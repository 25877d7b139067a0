"""The order state machine refuses illegal transitions (R50), checked over random sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.order_states import (
    FINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderAction,
    OrderStatus,
    allowed_actions,
    next_status,
)

REACHABLE_FROM_SUBMITTED = {OrderStatus.SUBMITTED}
for _ in range(len(OrderStatus)):
    REACHABLE_FROM_SUBMITTED |= {
        t for (s, _a), t in TRANSITIONS.items() if s in REACHABLE_FROM_SUBMITTED
    }


@given(st.lists(st.sampled_from(list(OrderAction)), max_size=40))
def test_random_action_sequences_follow_the_table(actions: list[OrderAction]) -> None:
    """Each action either follows the table or is refused and leaves the status as it was."""
    status = OrderStatus.SUBMITTED
    for action in actions:
        if (status, action) in TRANSITIONS:
            status = next_status(status, action)
            assert status in REACHABLE_FROM_SUBMITTED
        else:
            with pytest.raises(IllegalTransition):
                next_status(status, action)
        assert action in allowed_actions(status) or (status, action) not in TRANSITIONS


@given(st.sampled_from(sorted(FINAL)), st.sampled_from(list(OrderAction)))
def test_final_states_allow_nothing(status: OrderStatus, action: OrderAction) -> None:
    """Closed and cancelled orders never move again."""
    with pytest.raises(IllegalTransition):
        next_status(status, action)


def test_every_status_is_reachable_and_can_finish() -> None:
    """No dead states: all statuses are reachable from submitted and can reach a final one."""
    assert REACHABLE_FROM_SUBMITTED == set(OrderStatus)
    for status in OrderStatus:
        seen, frontier = {status}, {status}
        while frontier:
            frontier = {t for (s, _a), t in TRANSITIONS.items() if s in frontier} - seen
            seen |= frontier
        assert seen & FINAL, status


def test_claim_then_done_path() -> None:
    """The everyday path of a repair."""
    status = OrderStatus.SUBMITTED
    for action in ("claim", "depart", "arrive", "complete", "accept", "close"):
        status = next_status(status, OrderAction(action))
    assert status is OrderStatus.CLOSED
    with pytest.raises(IllegalTransition, match="cannot claim an order that is closed"):
        next_status(status, OrderAction.CLAIM)
