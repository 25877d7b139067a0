"""What an owner typed (or the photo sent) at the main menu is not dropped (issue 11.8): it is
kept in the idle conversation and offered as the start of a repair or a complaint."""

from __future__ import annotations

from typing import Any

from handlers.messages import Button
from handlers.turn import Turn
from store.people import has_home

KEY = "typed"  # the idle conversation's copy of what was typed at the menu
PHOTO_KEY = "typed_photo"
USE = "use_typed"  # the button that takes the kept text as the step's answer
LIMIT = 2000  # longer than any description or complaint may be: not offered, just the menu
SHOWN = 200  # how much of it the offer quotes back


def offer(turn: Turn) -> bool:
    """Keep a registered person's text or photo sent at the menu and offer to file it; False
    when there is nothing to keep (the caller shows the menu as before)."""
    _ = turn._
    text = (turn.inbound.text or "").strip()
    photo = turn.inbound.photo
    if (not text and photo is None) or len(text) > LIMIT:
        return False
    turn.keep({KEY: text, PHOTO_KEY: photo})
    if text:
        shown = text if len(text) <= SHOWN else text[:SHOWN] + "…"
        question = _(
            "Shall I file this for you?\n“{text}”\nStart a repair request or a complaint with "
            "it already filled in, or choose from the menu."
        ).format(text=shown)
    else:
        question = _(
            "Shall I file this photo for you? Start a repair request or a complaint with it "
            "already attached, or choose from the menu."
        )
    rows: list[list[Button]] = []
    if turn.person is not None and has_home(turn.person):
        rows.append([turn.global_button(_("🔧 Report a repair with this"), "repair", KEY)])
    rows.append([turn.global_button(_("📣 Complaint with this"), "complaint", KEY)])
    rows.append([turn.global_button(_("« Menu"), "menu")])
    turn.say(question, rows)
    return True


def taken(turn: Turn, arg: str) -> tuple[str, list[str]]:
    """The kept text and photos for a press of an offer's button (empty if none is kept:
    the offer was stale, or the person is already in a dialog)."""
    data: dict[str, Any] = turn.convo.data or {}
    if arg != KEY or turn.convo.step != "idle" or not isinstance(data.get(KEY), str):
        return "", []
    photo = data.get(PHOTO_KEY)
    return str(data[KEY]), [photo] if isinstance(photo, str) else []


def use_button(turn: Turn) -> list[Button]:
    """A "use what you wrote" button for a text step, when something typed at the menu is kept."""
    _ = turn._
    return [turn.button(_("✅ Use what I wrote"), USE)] if turn.draft.get(KEY) else []


def quoted(turn: Turn) -> str:
    """A reminder of the kept text under a text step's question, or ""."""
    _ = turn._
    text = str(turn.draft.get(KEY) or "")
    if not text:
        return ""
    shown = text if len(text) <= SHOWN else text[:SHOWN] + "…"
    return "\n" + _("You wrote: “{text}”. Tap “Use what I wrote”, or type it anew.").format(
        text=shown
    )
