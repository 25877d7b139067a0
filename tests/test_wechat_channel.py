"""WeChat-only input: images by MediaId, locations, typed option words, follow by QR code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.models import PersonRole
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wechat import FakeWeChat, WeChatOwner
from tests.harness import Bot, FakeClock, Owner, drain
from tests.test_jobs import join
from tests.test_repair import convo_state, orders_of, register, tap, to_desc

pytestmark = pytest.mark.parametrize("channel", ["wechat"])


async def test_image_and_location_make_the_order(alice: Owner) -> None:
    """A location is accepted as where the problem is; an image is kept like a Telegram photo."""
    assert isinstance(alice, WeChatOwner)
    await register(alice)
    await to_desc(alice, where="public", category="greening")
    replies = await alice.location(31.2304, 121.4737, "3栋北侧花坛 Flower bed north of building 3")
    assert alice.texts(replies) == [
        "Send up to 5 photos of the problem if you can, then tap the button."
    ]
    replies = await alice.photo("MEDIA_ID_branch_1")
    assert alice.texts(replies) == ["Photo received. Send more, or tap Continue."]
    await alice.press("Continue")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    replies = await tap(alice, "submit")
    assert "R-20261123-" in alice.texts(replies)[0]
    (order,) = orders_of(alice)
    assert order.description == "📍 3栋北侧花坛 Flower bed north of building 3"
    assert [p.file_ref for p in order.photos] == ["MEDIA_ID_branch_1"]


async def test_typing_the_words_of_an_option(alice: Owner) -> None:
    """ "Inside my home" or "plumbing" typed instead of a number chooses that option."""
    await register(alice)
    await alice.send("report a repair")
    assert convo_state(alice)[0] == "rep_where"
    replies = await alice.send("Inside my home")
    assert alice.texts(replies) == ["What kind of problem is it?"]
    replies = await alice.send("plumbing")
    assert alice.texts(replies) == ["Which of these is it? Prices are from our price list."]
    replies = await alice.send("99")  # no such option: read as text, politely refused
    assert convo_state(alice)[0] == "rep_item"
    assert replies


async def test_following_by_a_staff_invitation_code(alice: Owner) -> None:
    """Scanning a QR code whose scene is a staff invitation joins the staff, like a t.me link."""
    assert isinstance(alice, WeChatOwner)
    from store.staff import create_invite

    bot = alice.bot
    with bot.services.db.unit_of_work() as uow:
        code = create_invite(uow.session, "engineer", "engineering", bot.services.clock()).code
        uow.commit()
    replies = await alice.subscribe(scene=code)
    assert "Welcome to the team" in alice.texts(replies)[0]
    with bot.services.db.unit_of_work() as uow:
        assert uow.session.query(PersonRole).filter_by(role="engineer").count() == 1


async def test_unsupported_message_gets_a_polite_answer(alice: Owner) -> None:
    """A voice message without recognition (or a video, a file) is answered, not ignored."""
    assert isinstance(alice, WeChatOwner)
    await register(alice)
    await to_desc(alice)
    xml = (
        f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{alice.chat_id}]]>"
        f"</FromUserName><CreateTime>{alice._now()}</CreateTime><MsgType><![CDATA[voice]]>"
        "</MsgType><MediaId><![CDATA[VOICE1]]></MediaId><Format><![CDATA[amr]]></Format>"
        "<MsgId>8800000000001</MsgId></xml>"
    )
    replies = await alice._post(xml, "8800000000001")
    assert alice.texts(replies) and all(alice.texts(replies))
    assert convo_state(alice)[0] == "rep_desc"  # nothing changed


async def test_status_change_after_48_hours_goes_as_a_template(
    alice: Owner, fake_tg: FakeTelegram, fake_wx: FakeWeChat, bot: Bot, clock: FakeClock
) -> None:
    """The outbox picks the API by the window: a claim 49 h after the owner's last message
    reaches WeChat as a template message; once the owner writes again, as a normal message."""
    assert isinstance(alice, WeChatOwner)
    await register(alice)
    await to_desc(alice, where="public", category="plumbing")
    await alice.send("Water leaking from the lobby ceiling")
    await tap(alice, "photos_done")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    await tap(alice, "submit")
    clock.advance(timedelta(hours=49))

    wang = await join(fake_tg, bot, TgUser(3101, "Wang", "en"), "engineer", "engineering")
    message, data = wang.find_button("Claim")  # the group reads the default language, en
    await wang.press_data(data, message)
    await drain(bot)
    (template,) = fake_wx.sent("template/send", alice.chat_id)
    assert "Wang has taken your request" in template.body["data"]["first"]["value"]
    assert template.body["template_id"] == "TPL-NOTICE"

    replies = await alice.send("/requests")  # the owner writes: the window is open again
    assert [m["via"] for m in replies] == ["template", "passive"]  # the claim note, the answer
    assert len(fake_wx.sent("template/send", alice.chat_id)) == 1


async def test_timers_reach_a_wechat_owner_by_the_right_api(
    alice: Owner, fake_tg: FakeTelegram, fake_wx: FakeWeChat, bot: Bot, clock: FakeClock
) -> None:
    """The scheduler's owner messages take the same path: the survey and the first payment
    reminder inside the 48-hour window as customer-service messages, the survey answered by
    its number; a reminder days later as a template message (R20, R22, R27)."""
    from tests.harness import sweep
    from tests.test_callbacks import callbacks_of
    from tests.test_engineer import WANG, claimed_by, load_number
    from tests.test_repair import quick_order

    assert isinstance(alice, WeChatOwner)
    await register(alice)
    await quick_order(alice)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await wang.press("Owner pays later")
    await tap(alice, "accept", str(orders_of(alice)[-1].id))
    clock.advance(timedelta(hours=10, minutes=31))  # Monday 20:00
    await sweep(bot)
    texts = [c.body["text"]["content"] for c in fake_wx.sent("custom/send", alice.chat_id)]
    assert any("still unpaid" in t and "¥30.00" in t for t in texts)  # the reminder
    survey = next(t for t in texts if "How satisfied" in t and number in t)
    assert "3" in survey and "Unsatisfied" in survey  # the buttons became a numbered menu
    replies = await alice.send("3")
    assert any("will call you on" in t for t in alice.texts(replies))  # and by when (issue 11.9)
    survey_row, call = callbacks_of(bot, number)
    assert (survey_row.result, call.method, call.status) == ("unsatisfied", "call", "open")
    clock.advance(timedelta(days=3))  # the next reminder: the 48-hour window has closed
    await sweep(bot)
    templates = fake_wx.sent("template/send", alice.chat_id)
    assert any("still unpaid" in str(t.body["data"]) for t in templates)
