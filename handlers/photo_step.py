"""The photo step that a repair (R2) and a complaint (R31) share: up to five photos, kept in
the dialog's draft; an album (photos sent together, which Telegram delivers one message each)
is answered once, and the limit is said once per album, not once per picture."""

from __future__ import annotations

from typing import Any

from handlers.messages import Button
from handlers.turn import Turn

LIMIT = 5  # photos kept with one request
DONE = "photos_done"  # the step's button: go on to the next question


def ask(turn: Turn, question: str, nav: list[Button]) -> None:
    """Ask for photos; the button says how many are kept so far, or offers to skip them."""
    _ = turn._
    count = len(turn.draft.get("photos", []))
    label = _("Continue (photos: {count})").format(count=count) if count else _("Skip photos")
    turn.say(question, [[turn.button(label, DONE)], nav])


def take(turn: Turn) -> None:
    """The step's answer to a message: keep its photo (up to LIMIT), one reply per album."""
    _ = turn._
    inbound = turn.inbound
    if inbound.photo is None:
        turn.say(_("Please send a photo, or tap the button to continue."))
        return
    data = turn.draft
    photos: list[str] = list(data.get("photos", []))
    albums: list[str] = list(data.get("albums", []))
    repeat_album = inbound.album is not None and inbound.album in albums
    if len(photos) >= LIMIT:
        full: list[str] = list(data.get("full_albums", []))
        if inbound.album is None or inbound.album not in full:  # once per album, not per picture
            if inbound.album is not None:
                data["full_albums"] = [*full, inbound.album]
                turn.keep(data)
            turn.say(
                _("You have already sent {limit} photos, the most I can keep.").format(limit=LIMIT),
                [[turn.button(_("Continue"), DONE)]],
            )
        return
    photos.append(inbound.photo)
    if inbound.album is not None and not repeat_album:
        albums.append(inbound.album)
    data.update(photos=photos, albums=albums)
    turn.keep(data)
    if repeat_album:  # an album counts once: one answer per album, not per picture
        return
    turn.say(
        _("Photo received. Send more, or tap Continue."),
        [[turn.button(_("Continue"), DONE)]],
    )


def keep_captioned(turn: Turn, data: dict[str, Any]) -> None:
    """At a text step, a photo sent with the words (a captioned photo, or an album's first)
    is kept as well, and its album remembered so the album's other photos get no reply each."""
    if turn.inbound.photo is None:
        return
    data["photos"] = [*data.get("photos", []), turn.inbound.photo][:LIMIT]
    if turn.inbound.album is not None:
        data["albums"] = [*data.get("albums", []), turn.inbound.album]
