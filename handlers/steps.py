"""The dialog step registry: each step asks its question and handles the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.turn import Press, Turn

IDLE = "idle"


@dataclass(frozen=True)
class Step:
    """One question of a dialog."""

    name: str
    prompt: Callable[[Turn], None]
    on_input: Callable[[Turn], None]  # text, photo, contact or location
    on_press: Callable[[Turn, Press], None]


STEPS: dict[str, Step] = {}


def register(step: Step) -> Step:
    """Add a step to the registry."""
    STEPS[step.name] = step
    return step


def enter(turn: Turn, name: str, data: dict[str, Any] | None = None) -> None:
    """Move to a step and ask its question."""
    turn.goto(name, data)
    STEPS[name].prompt(turn)


def reprompt(turn: Turn) -> None:
    """Ask the current step's question again (after bad input or a stale button)."""
    step = STEPS.get(turn.convo.step)
    if step is not None:
        step.prompt(turn)


def choose_buttons_hint(turn: Turn) -> None:
    """Tell the person that this step wants a button, then ask again; a pressed button that
    was never offered (forged) is answered on the button, the question being on screen."""
    _ = turn._
    if turn.inbound.button is not None:
        turn.notice(_("Please choose one of the buttons below."))
        return
    turn.say(_("Please choose one of the buttons below."))
    reprompt(turn)


def too_long(text: str, limit: int) -> bool:
    """Whether a text is over a length limit."""
    return len(text) > limit
