"""Repair intake (R1, R2, R4, R5, R44): where, what, photos, when, phone, price, submit."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from handlers import photo_step, typed
from handlers.front_desk import caller
from handlers.jobs import post_job_card
from handlers.labels import (
    CATEGORY_LABELS,
    PUBLIC_CATEGORIES,
    category_label,
    day_label,
    masked_phone,
    money,
    unit_label,
    window_label,
)
from handlers.menu import FRONT_DESK, show_menu
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.steps import Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn, parse_id
from store.models import Person, PriceItem
from store.orders import NewRepair, create_repair, next_order_number, price_item
from store.people import has_home, roles_of
from store.phones import parse_phone
from store.price_list import categories, items_in

DESCRIPTION_LIMIT = 2000
TYPED_TIME = re.compile(
    r"^\s*(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?\s*[T ]?\s*(\d{1,2})[:：点](\d{2})?\s*$"
)


def start_repair(turn: Turn, typed_arg: str = "") -> None:
    """Begin a new repair request (with what was typed at the menu, when asked to), or resume
    the one in progress."""
    if turn.person is not None and turn.person.owner_status == "rejected":
        _ = turn._
        turn.say(
            _(
                "Your registration could not be confirmed, so I cannot take requests yet. "
                "Please call or visit the property office."
            )
        )
        return
    if turn.person is not None and not has_home(turn.person):
        no_home(turn)
        return
    if turn.convo.step.startswith("rep_"):
        _ = turn._
        turn.say(_("Let us continue your repair request where you left off."))
        enter(turn, turn.convo.step, turn.draft)
        return
    text, photos = typed.taken(turn, typed_arg)
    data: dict[str, Any] = {"photos": photos, "albums": []}
    if text:  # offered as the description when that step comes (issue 11.8)
        data[typed.KEY] = text
    enter(turn, "rep_where", data)


def _owner(turn: Turn) -> Person | None:
    """Whose request this is: the caller the agent files for, else the person writing."""
    return caller(turn) or turn.person


def no_home(turn: Turn) -> None:
    """Staff without a home of their own cannot file repairs: say how to register one."""
    _ = turn._
    turn.say(
        _(
            "Repairs are reported for a home, and no home is registered for you yet (you are "
            "registered as staff). If you own a flat here, register it first."
        ),
        [[turn.global_button(_("🏠 Register my home"), "home")]],
    )


def _nav(turn: Turn) -> list[Button]:
    _ = turn._
    return [turn.button(_("« Back"), "back"), turn.button(_("✖ Cancel"), "cancel")]


def _go_back(turn: Turn, target: str) -> None:
    enter(turn, target, turn.draft)


def cancel_dialog(turn: Turn) -> None:
    """Drop the draft and return to the menu; nothing is stored."""
    _ = turn._
    turn.goto("idle", {})
    turn.say(_("Cancelled. Nothing was saved."), remove_keyboard=True)
    show_menu(turn)


def _common_press(turn: Turn, press: Press, back_to: str | None) -> bool:
    if press.action == "cancel":
        cancel_dialog(turn)
        return True
    if press.action == "back":
        if back_to is None:
            cancel_dialog(turn)
        else:
            _go_back(turn, back_to)
        return True
    return False


# --- where ---------------------------------------------------------------------------------


def _ask_where(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Where is the problem?"),
        [
            [turn.button(_("🏠 Inside my home (paid service)"), "where", "home")],
            [turn.button(_("🏢 Public area (free)"), "where", "public")],
            [turn.button(_("✖ Cancel"), "cancel")],
        ],
    )


def _on_where_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, None):
        return
    if press.action == "where" and press.arg in ("home", "public"):
        data = turn.draft
        data["location"] = press.arg
        enter(turn, "rep_category", data)
        return
    choose_buttons_hint(turn)


# --- category ------------------------------------------------------------------------------


def _categories_for(turn: Turn) -> list[str]:
    # without a price list every category is still reportable; the engineer quotes on site
    known = categories(turn.session) or list(CATEGORY_LABELS)
    if turn.draft.get("location") == "public":
        return [c for c in known if c in PUBLIC_CATEGORIES]
    return known


def _ask_category(turn: Turn) -> None:
    _ = turn._
    keys = _categories_for(turn)
    rows = [
        [turn.button(category_label(_, k), "cat", k) for k in keys[i : i + 2]]
        for i in range(0, len(keys), 2)
    ]
    rows.append(_nav(turn))
    turn.say(_("What kind of problem is it?"), rows)


def _on_category_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_where"):
        return
    if press.action == "cat" and press.arg in _categories_for(turn):
        data = turn.draft
        data["category"] = press.arg
        data.pop("item_id", None)
        enter(turn, "rep_item" if data.get("location") == "home" else "rep_desc", data)
        return
    choose_buttons_hint(turn)


# --- price-list item (inside the home only) -------------------------------------------------


def _item_label(turn: Turn, item: PriceItem) -> str:
    _ = turn._
    name = item.name_zh if turn.language == "zh" else item.name_en
    if item.price_fen is None:
        return _("{name} · quoted on site").format(name=name)
    return f"{name} · {money(item.price_fen)}/{unit_label(turn.language, _, item.unit)}"


def _ask_item(turn: Turn) -> None:
    _ = turn._
    items = items_in(turn.session, str(turn.draft.get("category")))
    rows = [[turn.button(_item_label(turn, it), "item", str(it.id))] for it in items]
    rows.append([turn.button(_("Something else / not sure"), "item", "other")])
    rows.append(_nav(turn))
    turn.say(_("Which of these is it? Prices are from our price list."), rows)


def _on_item_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_category"):
        return
    data = turn.draft
    if press.action == "item" and press.arg == "other":
        data["item_id"] = None
        enter(turn, "rep_desc", data)
        return
    item_id = parse_id(press.arg) if press.action == "item" else None
    if item_id is not None:
        item = price_item(turn.session, item_id)
        if item is not None and item.category == data.get("category"):
            data["item_id"] = item.id
            enter(turn, "rep_desc", data)
            return
    choose_buttons_hint(turn)


# --- description ---------------------------------------------------------------------------


def _ask_desc(turn: Turn) -> None:
    _ = turn._
    use = typed.use_button(turn)
    turn.say(
        _("Please describe what is wrong, in a few words.") + typed.quoted(turn),
        [use, _nav(turn)] if use else [_nav(turn)],
    )


def _on_desc(turn: Turn) -> None:
    _ = turn._
    if turn.inbound.photo is not None and not turn.inbound.text:
        turn.say(_("Please type a short description first; you can send photos in the next step."))
        return
    text = (turn.inbound.text or "").strip()  # control characters dropped in the inbox
    if not text:
        turn.say(_("Please type a short description of the problem."))
        return
    if len(text) > DESCRIPTION_LIMIT:
        turn.say(
            _("Your description is {count} characters; please keep it to {limit} or fewer.").format(
                count=len(text), limit=DESCRIPTION_LIMIT
            )
        )
        return
    data = turn.draft
    data["desc"] = text
    data.pop(typed.KEY, None)
    photo_step.keep_captioned(turn, data)  # a photo with a caption: keep the picture as well
    enter(turn, "rep_photos", data)


def _on_desc_press(turn: Turn, press: Press) -> None:
    data = turn.draft
    if press.action == typed.USE and data.get(typed.KEY):  # what was typed at the menu
        data["desc"] = str(data.pop(typed.KEY))
        enter(turn, "rep_photos", data)
        return
    back = "rep_item" if turn.draft.get("location") == "home" else "rep_category"
    if not _common_press(turn, press, back):
        choose_buttons_hint(turn)


# --- photos --------------------------------------------------------------------------------


def _ask_photos(turn: Turn) -> None:
    _ = turn._
    question = _("Send up to {limit} photos of the problem if you can, then tap the button.")
    photo_step.ask(turn, question.format(limit=photo_step.LIMIT), _nav(turn))


def _on_photos_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_desc"):
        return
    if press.action == photo_step.DONE:
        enter(turn, "rep_when", turn.draft)
        return
    choose_buttons_hint(turn)


# --- when ----------------------------------------------------------------------------------


def _ask_when(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("When should we come?"),
        [
            [turn.button(_("🚨 Urgent: come now"), "when", "now")],
            [turn.button(_("📅 Book a visit"), "when", "book")],
            _nav(turn),
        ],
    )


def _on_when_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_photos"):
        return
    data = turn.draft
    if press.action == "when" and press.arg == "now":
        data.update(urgent=True, visit_start=None, visit_end=None)
        enter(turn, "rep_phone", data)
        return
    if press.action == "when" and press.arg == "book":
        data["urgent"] = False
        enter(turn, "rep_date", data)
        return
    choose_buttons_hint(turn)


def visit_windows(turn: Turn, day: date) -> list[tuple[datetime, datetime]]:
    """The visit windows of a local day that start in the future, inside business hours."""
    desk = turn.desk
    step = timedelta(hours=desk.visit_window_hours)
    start = datetime.combine(day, desk.opens, tzinfo=desk.timezone)
    close = datetime.combine(day, desk.closes, tzinfo=desk.timezone)
    now = desk.now()
    slots = []
    while start + step <= close:
        if start > now:
            slots.append((start, start + step))
        start += step
    return slots


def bookable_days(turn: Turn) -> list[date]:
    """The next days (up to the booking horizon) that still have a free visit window."""
    today = turn.desk.local(turn.desk.now()).date()
    days = [today + timedelta(days=i) for i in range(turn.desk.booking_days)]
    return [d for d in days if visit_windows(turn, d)]


def _ask_date(turn: Turn) -> None:
    _ = turn._
    days = bookable_days(turn)
    labels = [
        turn.button(
            day_label(turn.language, datetime.combine(d, turn.desk.opens)),
            "date",
            d.strftime("%Y%m%d"),
        )
        for d in days
    ]
    rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
    rows.append(_nav(turn))
    turn.say(
        _("Which day? Or type a date and time, for example {example}.").format(
            example=(turn.desk.local(turn.desk.now()) + timedelta(days=1)).strftime(
                "%Y-%m-%d 10:00"
            )
        ),
        rows,
    )


def _parse_day(arg: str) -> date | None:
    try:
        return datetime.strptime(arg, "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None


def _on_date_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_when"):
        return
    day = _parse_day(press.arg) if press.action == "date" else None
    if day is None:
        choose_buttons_hint(turn)
        return
    if not visit_windows(turn, day):
        _ = turn._
        turn.say(_("That day has no free visit times left. Please choose another day."))
        enter(turn, "rep_date", turn.draft)
        return
    data = turn.draft
    data["day"] = press.arg
    enter(turn, "rep_window", data)


def _on_typed_time(turn: Turn) -> None:
    _ = turn._
    match = TYPED_TIME.match(turn.inbound.text or "")
    if match is None:
        turn.say(
            _("Please choose a day below, or type a date and time like {example}.").format(
                example=_typing_example(turn)
            )
        )
        return
    local_now = turn.desk.local(turn.desk.now())
    year, month, day, hour, minute = match.groups()
    if year is None and (int(month), int(day)) < (local_now.month, local_now.day):
        year = str(local_now.year + 1)  # "01-05" typed on 30 December means next January
    try:
        moment = datetime(
            int(year or local_now.year),
            int(month),
            int(day),
            int(hour),
            int(minute or 0),
            tzinfo=turn.desk.timezone,
        )
    except ValueError:
        turn.say(
            _("That date does not exist. Please type it like {example}.").format(
                example=_typing_example(turn)
            )
        )
        return
    _book_moment(turn, moment)


def _typing_example(turn: Turn) -> str:
    """Tomorrow at ten, as an example of a typed visit time."""
    return (turn.desk.local(turn.desk.now()) + timedelta(days=1)).strftime("%Y-%m-%d 10:00")


def _book_moment(turn: Turn, start: datetime) -> None:
    _ = turn._
    desk = turn.desk
    if start <= desk.now():
        turn.say(_("That time has already passed. Please choose a time in the future."))
        return
    if start.time() < desk.opens or start.time() >= desk.closes:
        turn.say(
            _("We visit between {opens} and {closes}. Please choose a time in those hours.").format(
                opens=desk.opens.strftime("%H:%M"), closes=desk.closes.strftime("%H:%M")
            )
        )
        return
    if start.date() > desk.local(desk.now()).date() + timedelta(days=30):
        turn.say(_("We can book visits up to 30 days ahead. Please choose an earlier date."))
        return
    end = start + timedelta(hours=desk.visit_window_hours)  # after the checks: 9999-12-31 overflows
    close = datetime.combine(start.date(), desk.closes, tzinfo=desk.timezone)
    data = turn.draft
    data.update(visit_start=start.isoformat(), visit_end=min(end, close).isoformat())
    enter(turn, "rep_phone", data)


def _ask_window(turn: Turn) -> None:
    _ = turn._
    day = _parse_day(str(turn.draft.get("day", ""))) or turn.desk.local(turn.desk.now()).date()
    slots = visit_windows(turn, day)
    buttons = [
        turn.button(f"{s:%H:%M}–{e:%H:%M}", "slot", s.strftime("%Y%m%d%H%M")) for s, e in slots
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(_nav(turn))
    turn.say(
        _("What time on {day}?").format(
            day=day_label(turn.language, datetime.combine(day, turn.desk.opens))
        ),
        rows,
    )


def _on_window_press(turn: Turn, press: Press) -> None:
    if _common_press(turn, press, "rep_date"):
        return
    if press.action == "slot":
        try:
            start = datetime.strptime(press.arg, "%Y%m%d%H%M").replace(tzinfo=turn.desk.timezone)
        except ValueError:
            choose_buttons_hint(turn)
            return
        _book_moment(turn, start)
        return
    choose_buttons_hint(turn)


# --- contact phone -------------------------------------------------------------------------


def _ask_phone(turn: Turn) -> None:
    _ = turn._
    rows: list[list[Button]] = []
    owner = _owner(turn)
    if owner is not None and owner.phone:
        rows.append(
            [turn.button(_("Use {phone}").format(phone=masked_phone(owner.phone)), "phone", "mine")]
        )
    rows.append(_nav(turn))
    turn.say(_("Which phone number should the engineer call? Tap below or type another one."), rows)


def _on_phone(turn: Turn) -> None:
    _ = turn._
    raw = turn.inbound.contact_phone or (turn.inbound.text or "").strip()
    phone = parse_phone(raw[:40]) if raw else None
    if phone is None:
        turn.say(
            _(
                "That does not look like a valid phone number. Please type an 11-digit "
                "mobile number, for example 138 1234 5678, or tap the button."
            )
        )
        return
    _phone_chosen(turn, phone)


def _on_phone_press(turn: Turn, press: Press) -> None:
    back = "rep_when" if turn.draft.get("urgent") else "rep_date"
    if _common_press(turn, press, back):
        return
    owner = _owner(turn)
    if press.action == "phone" and owner is not None and owner.phone:
        _phone_chosen(turn, owner.phone)
        return
    choose_buttons_hint(turn)


def _phone_chosen(turn: Turn, phone: str) -> None:
    data = turn.draft
    data["phone"] = phone
    enter(turn, "rep_quote" if data.get("location") == "home" else "rep_confirm", data)


# --- the price (R4, R5) --------------------------------------------------------------------


def _chosen_item(turn: Turn) -> PriceItem | None:
    item_id = turn.draft.get("item_id")
    return price_item(turn.session, int(item_id)) if isinstance(item_id, int) else None


def _ask_quote(turn: Turn) -> None:
    _ = turn._
    item = _chosen_item(turn)
    if item is not None and item.price_fen is not None:
        name = item.name_zh if turn.language == "zh" else item.name_en
        turn.say(
            _(
                "This is a paid service.\n{name}: {price} per {unit}.\nMaterials, if needed, are "
                "charged at cost. Do you agree to this price?"
            ).format(
                name=name, price=money(item.price_fen), unit=unit_label(turn.language, _, item.unit)
            ),
            [
                [
                    turn.button(_("✅ Agree"), "quote", "agree"),
                    turn.button(_("❌ Decline"), "quote", "decline"),
                ],
                _nav(turn),
            ],
        )
        return
    turn.say(
        _(
            "This is a paid service without a fixed list price. An engineer will inspect and quote "
            "on site; you decide then, and no work starts before you agree."
        ),
        [[turn.button(_("👌 Understood"), "quote", "ack")], _nav(turn)],
    )


def _on_quote_press(turn: Turn, press: Press) -> None:
    _ = turn._
    if _common_press(turn, press, "rep_phone"):
        return
    data = turn.draft
    item = _chosen_item(turn)
    listed = item is not None and item.price_fen is not None
    if press.action == "quote" and press.arg == "decline" and listed:
        turn.goto("idle", {})
        turn.say(
            _(
                "Understood: no order was made and nothing will be charged. If you change "
                "your mind, you can start a new request any time."
            )
        )
        show_menu(turn)
        return
    if press.action == "quote" and (
        (press.arg == "agree" and listed) or (press.arg == "ack" and not listed)
    ):
        data["quote"] = "list" if listed else "on_site"
        data["quoted_fen"] = item.price_fen if listed and item is not None else None
        enter(turn, "rep_confirm", data)
        return
    choose_buttons_hint(turn)


# --- summary and submit --------------------------------------------------------------------


def _summary(turn: Turn, data: dict[str, Any]) -> str:
    _ = turn._
    lines = [_("Please check your request:")]
    lines.append(
        _("Where: {where}").format(
            where=_("inside the home") if data.get("location") == "home" else _("public area")
        )
    )
    lines.append(
        _("Category: {category}").format(category=category_label(_, str(data.get("category"))))
    )
    item = _chosen_item(turn) if data.get("location") == "home" else None
    if item is not None:
        lines.append(
            _("Item: {name}").format(name=item.name_zh if turn.language == "zh" else item.name_en)
        )
    lines.append(_("Problem: {text}").format(text=str(data.get("desc", ""))[:500]))
    lines.append(_("Photos: {count}").format(count=len(data.get("photos", []))))
    lines.append(_("When: {when}").format(when=_when_text(turn, data)))
    lines.append(_("Phone: {phone}").format(phone=masked_phone(str(data.get("phone", "")))))
    lines.append(_("Price: {price}").format(price=_price_text(turn, data)))
    return "\n".join(lines)


def _when_text(turn: Turn, data: dict[str, Any]) -> str:
    _ = turn._
    if data.get("urgent"):
        return _("come now (urgent)")
    start = datetime.fromisoformat(str(data["visit_start"]))
    end = datetime.fromisoformat(str(data["visit_end"]))
    return window_label(turn.language, turn.desk.local(start), turn.desk.local(end))


def _price_text(turn: Turn, data: dict[str, Any]) -> str:
    _ = turn._
    if data.get("location") != "home":
        return _("free (public area)")
    if data.get("quote") == "list" and isinstance(data.get("quoted_fen"), int):
        return _("{amount}, agreed (materials at cost)").format(amount=money(data["quoted_fen"]))
    return _("quoted on site; you decide then")


def _ask_confirm(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _summary(turn, turn.draft),
        [[turn.button(_("📨 Submit"), "submit")], _nav(turn)],
    )


def _on_confirm_press(turn: Turn, press: Press) -> None:
    back = "rep_quote" if turn.draft.get("location") == "home" else "rep_phone"
    if _common_press(turn, press, back):
        return
    if press.action == "submit":
        _submit(turn)
        return
    choose_buttons_hint(turn)


def _submit(turn: Turn) -> None:
    _ = turn._
    data = turn.draft
    assert turn.person is not None
    agent = turn.person
    owner = caller(turn)
    if data.get("for_owner_id") is not None and (
        owner is None or not roles_of(turn.session, agent.id) & FRONT_DESK
    ):  # the role is re-checked at submit: it may have been withdrawn meanwhile
        turn.goto("idle", {})
        turn.say(_("Sorry, only front-desk agents can enter requests for owners."))
        show_menu(turn)
        return
    if owner is None:
        owner = agent
    if not has_home(owner):  # a draft begun before the home was required
        turn.goto("idle", {})
        no_home(turn)
        return
    now = turn.desk.now()
    home = data.get("location") == "home"
    repair = NewRepair(
        location="home" if home else "public",
        category=str(data["category"]),
        description=str(data["desc"]),
        contact_phone=str(data["phone"]),
        urgent=bool(data.get("urgent")),
        visit_start=(
            datetime.fromisoformat(data["visit_start"]) if data.get("visit_start") else None
        ),
        visit_end=datetime.fromisoformat(data["visit_end"]) if data.get("visit_end") else None,
        price_item_id=data.get("item_id") if home else None,
        quote_kind=str(data.get("quote", "on_site")) if home else "free",
        quoted_fen=data.get("quoted_fen") if home else None,
        photos=tuple(data.get("photos", [])),
        channel=turn.inbound.channel,
    )
    number = next_order_number(turn.session, "R", turn.desk.local(now).strftime("%Y%m%d"))
    intake = str(data.get("intake_channel", "phone")) if data.get("for_owner_id") else None
    order = create_repair(
        turn.session,
        owner,
        repair,
        number,
        now,
        entered_by=agent if intake else None,
        intake=intake,
    )
    post_job_card(turn, order)
    turn.goto("idle", {})
    if intake:
        _tell_owner(turn, owner, number, data)
        turn.say(
            _(
                "Request {number} is registered for {name} ({room}); they are told on their own "
                "channel."
            ).format(number=number, name=owner.name, room=data.get("room", ""))
        )
        show_menu(turn)
        return
    if repair.urgent:
        plan = _("An engineer will come now and be on site within 30 minutes.")
    else:
        plan = _("An engineer will come {when}.").format(when=_when_text(turn, data))
    turn.say(
        _(
            "Thank you! Your request {number} is registered.\n{plan}\nYou will get a message as "
            "soon as an engineer takes it."
        ).format(number=number, plan=plan)
    )
    show_menu(turn)


def _tell_owner(turn: Turn, owner: Person, number: str, data: dict[str, Any]) -> None:
    """The caller hears, in their own chat and language, that the desk filed it for them (R1)."""
    urgent = bool(data.get("urgent"))
    start = datetime.fromisoformat(data["visit_start"]) if data.get("visit_start") else None
    end = datetime.fromisoformat(data["visit_end"]) if data.get("visit_end") else None
    desk = turn.desk

    def compose(_: Any) -> tuple[str, list[list[Button]]]:
        if urgent or start is None or end is None:
            plan = _("An engineer will come now and be on site within 30 minutes.")
        else:
            plan = _("An engineer will come {when}.").format(
                when=window_label(owner.language, desk.local(start), desk.local(end))
            )
        via = _("by phone") if data.get("intake_channel") == "phone" else _("at the counter")
        text = _(
            "The property desk registered your request {number} ({via}).\n{plan}\nYou will "
            "get a message as soon as an engineer takes it."
        ).format(number=number, via=via, plan=plan)
        return text, []

    notify_person(turn, owner, compose)


def _only_buttons(turn: Turn) -> None:
    choose_buttons_hint(turn)


register(Step("rep_where", _ask_where, _only_buttons, _on_where_press))
register(Step("rep_category", _ask_category, _only_buttons, _on_category_press))
register(Step("rep_item", _ask_item, _only_buttons, _on_item_press))
register(Step("rep_desc", _ask_desc, _on_desc, _on_desc_press))
register(Step("rep_photos", _ask_photos, photo_step.take, _on_photos_press))
register(Step("rep_when", _ask_when, _only_buttons, _on_when_press))
register(Step("rep_date", _ask_date, _on_typed_time, _on_date_press))
register(Step("rep_window", _ask_window, _on_typed_time, _on_window_press))
register(Step("rep_phone", _ask_phone, _on_phone, _on_phone_press))
register(Step("rep_quote", _ask_quote, _only_buttons, _on_quote_press))
register(Step("rep_confirm", _ask_confirm, _only_buttons, _on_confirm_press))
