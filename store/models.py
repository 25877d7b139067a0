"""SQLAlchemy 2 typed models: the desk's whole state lives in these tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.clock import STAMP


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """SQLite forgets the zone; the stored value is UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# timestamps written at insert (and on change) from the unit of work's clock (store.clock)
STAMPED = {STAMP: "insert"}
STAMPED_ON_CHANGE = {STAMP: "update"}


class Base(DeclarativeBase):
    """Declarative base of every propdesk table."""

    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime}  # noqa: RUF012


class Unit(Base):
    """A home in the estate registry (房号): building-unit-room and the owner on file."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # normalized "3-2-1201"
    building: Mapped[str] = mapped_column(String(20))
    entrance: Mapped[str] = mapped_column(String(20))
    room: Mapped[str] = mapped_column(String(20))
    owner_name: Mapped[str] = mapped_column(String(100))
    phones: Mapped[str] = mapped_column(String(200), default="")  # E.164, space separated


Index("ix_units_building_entrance", Unit.building, Unit.entrance)
Index("ix_units_room", Unit.room)


class Person(Base):
    """Somebody the desk knows: an owner, a staff member, or both."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # "verified" when the phone matched the registry, "pending" until staff approve
    owner_status: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))  # a /start payload, e.g. building3
    language: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)

    unit: Mapped[Unit | None] = relationship()
    identities: Mapped[list[Identity]] = relationship(back_populates="person")
    roles: Mapped[list[PersonRole]] = relationship(back_populates="person")


class Identity(Base):
    """One channel account (a Telegram user id, a WeChat openid) of a person."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))

    person: Mapped[Person] = relationship(back_populates="identities")


class PersonRole(Base):
    """A staff role held by a person (agent, engineer, supervisor, ...)."""

    __tablename__ = "person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(20))

    person: Mapped[Person] = relationship(back_populates="roles")


class Conversation(Base):
    """Where a chat is in a dialog: the step, the draft so far, and a version for buttons."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(40), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(info=STAMPED_ON_CHANGE)


class PriceItem(Base):
    """One line of the paid-service price list (有偿服务收费标准)."""

    __tablename__ = "price_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    price_fen: Mapped[int | None] = mapped_column(Integer)  # None = quoted on site
    active: Mapped[bool] = mapped_column(default=True)


class Order(Base):
    """A work order (工单): what, where, when, the agreed price, and its status."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="repair")
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    location: Mapped[str] = mapped_column(String(10))  # "home" (paid) or "public" (free)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(default=False)
    visit_start: Mapped[datetime | None] = mapped_column()
    visit_end: Mapped[datetime | None] = mapped_column()
    price_item_id: Mapped[int | None] = mapped_column(ForeignKey("price_items.id"))
    # "list" (agreed list price), "on_site" (engineer quotes), "free" (public area)
    quote_kind: Mapped[str] = mapped_column(String(10))
    quoted_fen: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # ix_orders_status_category
    department: Mapped[str] = mapped_column(String(20), default="engineering")
    created_at: Mapped[datetime] = mapped_column(info=STAMPED, index=True)
    # the staff half (claim, card in the group); version makes staff buttons go stale
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=0)
    card_outbox_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    rework_of_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # the owner's sign-off (R9): 满意 / 一般 / 不满意 as "satisfied" / "average" / "unsatisfied"
    rating: Mapped[str | None] = mapped_column(String(16))  # store.jobs.RATINGS
    rating_comment: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    unit: Mapped[Unit | None] = relationship()
    price_item: Mapped[PriceItem | None] = relationship()
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id"
    )
    photos: Mapped[list[OrderPhoto]] = relationship(order_by="OrderPhoto.id")


Index("ix_orders_owner_created", Order.owner_id, Order.created_at)
# by status; with the category the digest counts open orders from the index alone (R52)
Index("ix_orders_status_category", Order.status, Order.category)


class StaffInvite(Base):
    """A one-time link that binds a Telegram account to a staff role (expires, single use)."""

    __tablename__ = "staff_invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class OrderEvent(Base):
    """One line of an order's append-only history (R50): who did what, when, for how much."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(info=STAMPED)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    amount_fen: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="events")


class OrderPhoto(Base):
    """A photo attached to an order, by channel file reference."""

    __tablename__ = "order_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    file_ref: Mapped[str] = mapped_column(String(255))


class DailyCounter(Base):
    """The last order number handed out per prefix and local day."""

    __tablename__ = "daily_counters"
    __table_args__ = (UniqueConstraint("prefix", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4))
    day: Mapped[str] = mapped_column(String(8))
    value: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedUpdate(Base):
    """An inbound update already handled: a duplicate delivery stops here."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("channel", "update_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(info=STAMPED)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(info=STAMPED)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    sent_at: Mapped[datetime | None] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(64))


Index("ix_outbox_due", OutboxMessage.status, OutboxMessage.next_attempt_at)
Index("ix_outbox_chat", OutboxMessage.channel, OutboxMessage.chat_id, OutboxMessage.status)


class Bill(Base):
    """What an owner owes for an order (R10): paid on the spot, or unpaid (欠费) until settled."""

    __tablename__ = "bills"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    # "unpaid" until paid_fen reaches amount_fen; reminders stop the moment it is "paid" (R27)
    status: Mapped[str] = mapped_column(String(10), default="unpaid")
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    paid_at: Mapped[datetime | None] = mapped_column()
    # payment reminders sent so far (R27); after the last one customer service asks why (R26)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    follow_up_since: Mapped[datetime | None] = mapped_column()

    order: Mapped[Order] = relationship()
    payments: Mapped[list[Payment]] = relationship(order_by="Payment.id")


Index("ix_bills_status_created", Bill.status, Bill.created_at)
# the digest's outstanding total sums unpaid bills from the index alone (R52)
Index("ix_bills_status_amounts", Bill.status, Bill.amount_fen, Bill.paid_fen)


class Payment(Base):
    """Money received against a bill: how much, how, and who recorded it."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(12))  # cash, wechat, alipay, bank
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime] = mapped_column(info=STAMPED)


class Timer(Base):
    """Something to do at a time (remind, escalate, report), written in the same transaction as
    the change that caused it and cancelled the same way; the sweeper runs it exactly once."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    due_at: Mapped[datetime] = mapped_column()
    # pending → done | cancelled | failed
    status: Mapped[str] = mapped_column(String(10), default="pending")
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # a run that must happen once however many workers ask for it ("daily_digest:2026-11-22")
    once_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    done_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


Index("ix_timers_due", Timer.status, Timer.due_at)
Index("ix_timers_subject", Timer.subject_id, Timer.kind, Timer.status)


class Callback(Base):
    """A callback (回访) after service and its outcome (R20–R24): a survey the bot sends, or a
    call a person makes; who, when, result, comment."""

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # "routine" (every repair, R20), "sample" (paid services, R23), "rating" (R22)
    reason: Mapped[str] = mapped_column(String(10))
    # "survey" (the bot asks the owner) or "call" (an agent calls the owner)
    method: Mapped[str] = mapped_column(String(8))
    # survey: scheduled → asked → answered; call: open → taken → done
    status: Mapped[str] = mapped_column(String(10))
    result: Mapped[str | None] = mapped_column(String(12))  # satisfied / average / unsatisfied
    comment: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(info=STAMPED, index=True)
    asked_at: Mapped[datetime | None] = mapped_column()
    taken_at: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship()
    handled_by: Mapped[Person | None] = relationship()


Index("ix_order_events_action_at", OrderEvent.action, OrderEvent.at)
Index("ix_callbacks_done_at", Callback.done_at)
Index("ix_payments_at", Payment.at)
Index("ix_bills_follow_up", Bill.follow_up_since)


class WeChatFollower(Base):
    """A WeChat user of the Official Account: subscription, last message (the 48-hour window)
    and the numbered menu last shown to them."""

    __tablename__ = "wechat_followers"
    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    subscribed_at: Mapped[datetime | None] = mapped_column()
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    # [[label, callback data], ...] of the last message shown: "1" means the first
    menu: Mapped[list[Any]] = mapped_column(JSON, default=list)


class WeChatToken(Base):
    """The access token of a WeChat app, shared by every worker; one refresher at a time."""

    __tablename__ = "wechat_tokens"
    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(String(600))
    expires_at: Mapped[datetime | None] = mapped_column()
    refreshing_until: Mapped[datetime | None] = mapped_column()  # the refresher's lease
    version: Mapped[int] = mapped_column(Integer, default=0)


class LinkCode(Base):
    """A short single-use code that joins a person's account in another channel to theirs."""

    __tablename__ = "link_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), index=True)  # unique among live codes
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # where it was asked for
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class WebSignIn(Base):
    """A one-time link that signs a registered person in to the web chat (sent by /web)."""

    __tablename__ = "web_sign_ins"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the link's token
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # where it was asked for
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """A signed-in browser: the cookie's token (kept only as its hash) names a web identity."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    web_id: Mapped[str] = mapped_column(String(64), index=True)  # Identity.external_id, "web"
    created_at: Mapped[datetime] = mapped_column(info=STAMPED)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


# Capabilities grown into their own packages define their tables on the same Base; importing
# them here keeps Base.metadata whole for Alembic and the migration-drift test.
import store.complaints.models  # noqa: E402, F401
