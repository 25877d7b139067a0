"""A problem typed (or a photo sent) at the main menu is not dropped (issue 11.8): the owner is
offered a repair request or a complaint with it already filled in (R1, R30)."""

from __future__ import annotations

from tests.harness import Owner
from tests.test_repair import both_channels, convo_state, orders_of, register, tap

LEAK = "My bathroom ceiling is leaking onto the floor"


@both_channels
async def test_text_at_the_menu_becomes_the_repair_description(alice: Owner) -> None:
    """R1: typed at the menu, offered back; the description step takes it with one press."""
    await register(alice)
    replies = await alice.send(LEAK)
    offer = alice.texts(replies)[-1]
    assert LEAK in offer and "repair" in offer and "complaint" in offer
    await tap(alice, "repair", "typed")
    await tap(alice, "where", "home")
    await tap(alice, "cat", "plumbing")
    await tap(alice, "item", "other")
    step, draft, _v = convo_state(alice)
    assert step == "rep_desc" and draft["typed"] == LEAK
    assert LEAK in alice.texts(alice.last)[-1]  # the question quotes it back
    await tap(alice, "use_typed")
    step, draft, _v = convo_state(alice)
    assert step == "rep_photos" and draft["desc"] == LEAK and "typed" not in draft


@both_channels
async def test_typing_anew_replaces_what_was_typed_at_the_menu(alice: Owner) -> None:
    """The owner may still type another description; the kept text is then forgotten."""
    await register(alice)
    await alice.send(LEAK)
    await tap(alice, "repair", "typed")
    await tap(alice, "where", "public")
    await tap(alice, "cat", "plumbing")
    await alice.send("Lobby tap drips")
    step, draft, _v = convo_state(alice)
    assert step == "rep_photos" and draft["desc"] == "Lobby tap drips" and "typed" not in draft


@both_channels
async def test_photo_at_the_menu_is_attached_to_the_repair(alice: Owner) -> None:
    """A photo sent at the menu is the request's first photo."""
    await register(alice)
    replies = await alice.photo("AgACmenu1")
    assert "photo" in alice.texts(replies)[-1]
    await tap(alice, "repair", "typed")
    step, draft, _v = convo_state(alice)
    assert step == "rep_where" and len(draft["photos"]) == 1


@both_channels
async def test_text_at_the_menu_becomes_the_complaint(alice: Owner) -> None:
    """R30: the complaint's "what happened" step offers the text typed at the menu."""
    await register(alice)
    await alice.send("The night guard was rude to my mother")
    await tap(alice, "complaint", "typed")
    await tap(alice, "type", "complaint")
    step, _d, _v = convo_state(alice)
    assert step == "cmp_subject"
    await tap(alice, "subj", "attitude")
    step, draft, _v = convo_state(alice)
    assert step == "cmp_text" and "night guard" in alice.texts(alice.last)[-1]
    await tap(alice, "use_typed")
    step, draft, _v = convo_state(alice)
    assert step == "cmp_photos" and draft["text"] == "The night guard was rude to my mother"


@both_channels
async def test_a_stale_offer_starts_a_plain_request(alice: Owner) -> None:
    """The offer's button after the owner started and cancelled another request starts an
    empty one: nothing typed earlier is carried."""
    await register(alice)
    await alice.send(LEAK)
    await tap(alice, "repair")  # the menu's own button: an empty request
    await alice.send("/cancel")
    await tap(alice, "repair", "typed")
    step, draft, _v = convo_state(alice)
    assert step == "rep_where" and "typed" not in draft and draft["photos"] == []
    assert not orders_of(alice)
