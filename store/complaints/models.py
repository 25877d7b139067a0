"""The complaint tables: the complaint, its append-only history, photos and liaison forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import STAMPED, Base, Person


class Complaint(Base):
    """A complaint (投诉) or suggestion (建议): what, where, whether anonymous (R30), its class
    (R32), who handles it, and how it ended."""

    __tablename__ = "complaints"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # "complaint" or "suggestion"
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    subject: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(10))  # "home", "public" or "elsewhere"
    place: Mapped[str | None] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(16))  # where the owner filed it (photo refs)
    # new → taken → in_progress ⇄ resolved → closed; suggestions are "logged"
    status: Mapped[str] = mapped_column(String(12), index=True)
    # R32: "1" property service, "2" developer (liaison form), "3" referred, "invalid"
    klass: Mapped[str | None] = mapped_column(String(8))
    class_note: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    butler_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    referred_to: Mapped[str | None] = mapped_column(String(200))
    flagged: Mapped[bool] = mapped_column(default=False)  # R34: company, media or government
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str | None] = mapped_column(Text)
    # resolved, auto_resolved, referred, invalid (how a closed complaint ended)
    outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(info=STAMPED, index=True)
    taken_at: Mapped[datetime | None] = mapped_column()
    classified_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # the callback (R24, R25): "call" by a manager or supervisor, or a "survey" of the owner
    callback_method: Mapped[str | None] = mapped_column(String(8))
    callback_status: Mapped[str | None] = mapped_column(String(10))  # open, taken, asked, done
    callback_result: Mapped[str | None] = mapped_column(String(12))
    callback_comment: Mapped[str | None] = mapped_column(Text)
    callback_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    callback_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=0)
    card_outbox_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))

    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
    agent: Mapped[Person | None] = relationship(foreign_keys=[agent_id])
    butler: Mapped[Person | None] = relationship(foreign_keys=[butler_id])
    events: Mapped[list[ComplaintEvent]] = relationship(order_by="ComplaintEvent.id")
    photos: Mapped[list[ComplaintPhoto]] = relationship(order_by="ComplaintPhoto.id")
    liaisons: Mapped[list[LiaisonForm]] = relationship(order_by="LiaisonForm.id")


Index("ix_complaints_owner_status", Complaint.owner_id, Complaint.status)


class ComplaintEvent(Base):
    """One line of a complaint's append-only history: who did what, when, with what note."""

    __tablename__ = "complaint_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime] = mapped_column(info=STAMPED)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class ComplaintPhoto(Base):
    """A photo the owner attached to a complaint, by channel file reference."""

    __tablename__ = "complaint_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    file_ref: Mapped[str] = mapped_column(String(255))


class LiaisonForm(Base):
    """A liaison form (工作联络单) to the developer for a class-2 complaint (R32): addressed to,
    what is asked, and the reply date the desk reminds about."""

    __tablename__ = "liaison_forms"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    addressed_to: Mapped[str] = mapped_column(String(200))
    request: Mapped[str] = mapped_column(Text)
    reply_due: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="awaiting")  # awaiting, replied
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
