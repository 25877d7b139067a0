"""Channel-neutral messages: what a person sent (Inbound) and what the desk says (Outbound)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

ChatKind = Literal["private", "group"]


@dataclass(frozen=True)
class Inbound:
    """One thing a person did in a chat: text, a button press, a photo or a shared contact."""

    channel: str
    update_id: str
    chat_id: str
    chat_kind: ChatKind
    user_id: str
    user_name: str = ""
    language_hint: str | None = None
    text: str | None = None
    button: str | None = None  # callback data of a pressed button
    button_message_id: str | None = None  # the pressed message: a private reply may edit it
    press_notices: bool = False  # the transport shows a press's notice on the button itself
    photo: str | None = None  # channel file reference
    album: str | None = None  # photos sent together share an album id
    contact_phone: str | None = None
    contact_user_id: str | None = None
    location: tuple[float, float] | None = None
    edited: bool = False  # an edit of an earlier message: not read as an answer (issue 11.11)

    @property
    def command(self) -> str | None:
        """The bot command ("start", "cancel", ...) if the text is one."""
        if not self.text or not self.text.startswith("/"):
            return None
        words = self.text[1:].split(maxsplit=1)
        return words[0].split("@", 1)[0].lower() if words else ""

    @property
    def command_arg(self) -> str:
        """What follows the command word, e.g. the deep-link payload of /start."""
        parts = (self.text or "").split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


@dataclass(frozen=True)
class Button:
    """A choice offered to the person; `data` comes back as `Inbound.button`."""

    label: str
    data: str


@dataclass(frozen=True)
class Upload:
    """A file the desk made: a chart sent as a photo, or a report sent as a document."""

    kind: Literal["photo", "document"]
    filename: str
    data: bytes

    @classmethod
    def from_payload(cls, value: object) -> Upload | None:
        """Rebuild an upload from its outbox JSON (None when there is none)."""
        if not isinstance(value, dict):
            return None
        data, name = base64.b64decode(value["data"]), str(value["filename"])
        return cls("photo" if value.get("kind") == "photo" else "document", name, data)


@dataclass
class Outbound:
    """One message the desk sends; stored in the outbox as JSON until delivered."""

    chat_id: str
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    ask_contact: str | None = None  # label of a "share my phone" keyboard button
    remove_keyboard: bool = False  # take away the "share my phone" keyboard
    photo: str | None = None
    edit_message_id: str | None = None  # edit an earlier message instead of sending
    upload: Upload | None = None  # a file made by the desk (chart, report), sent with the text
    # how many leading characters of `text` are notes joined in front of it (issue 15.2): a
    # WeCom card titles itself with the question after them, not with the note
    note_chars: int = 0

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able form stored in the outbox."""
        upload = None
        if self.upload is not None:
            data = base64.b64encode(self.upload.data).decode("ascii")
            upload = {"kind": self.upload.kind, "filename": self.upload.filename, "data": data}
        payload: dict[str, Any] = {
            "upload": upload,
            "text": self.text,
            "buttons": [[[b.label, b.data] for b in row] for row in self.buttons],
            "ask_contact": self.ask_contact,
            "remove_keyboard": self.remove_keyboard,
            "photo": self.photo,
            "edit_message_id": self.edit_message_id,
        }
        if self.note_chars:
            payload["note_chars"] = self.note_chars
        return payload

    @classmethod
    def from_payload(cls, chat_id: str, payload: dict[str, Any]) -> Outbound:
        """Rebuild a message from its outbox JSON."""
        return cls(
            chat_id=chat_id,
            text=payload["text"],
            buttons=[[Button(label, data) for label, data in row] for row in payload["buttons"]],
            ask_contact=payload.get("ask_contact"),
            remove_keyboard=bool(payload.get("remove_keyboard")),
            photo=payload.get("photo"),
            edit_message_id=payload.get("edit_message_id"),
            upload=Upload.from_payload(payload.get("upload")),
            note_chars=int(payload.get("note_chars") or 0),
        )
