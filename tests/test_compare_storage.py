"""What a comparison stores: its turns share the prompt's history but never enter a later
turn's (a comparison is a side experiment), a comparison of an earlier turn sees the history
that turn saw, a comparison's turn cannot be regenerated into the conversation, and the
conversation payload lists comparisons (prompt, source turn, one turn per effort) apart from
the conversation's own turns, so a reload redraws them."""

from __future__ import annotations

import pytest
from django.test import Client

from webapp.chat import turns
from webapp.chat.frames import CompareRequest, FrameError, TurnRequest
from webapp.chat.models import Conversation, Message, Turn
from webapp.chat.views import conversation_payload

pytestmark = pytest.mark.django_db


def answered(conversation, text, answer, **fields):
    turn = Turn.objects.create(conversation=conversation, user_text=text, effort="medium",
                               status="completed", **fields)
    Message.objects.create(turn=turn, index=0, role="assistant", channel="final", text=answer)
    return turn


def texts(msgs):
    return [(m.role, m.text) for m in msgs]


def compared(user, **request):
    created = turns.create_comparison(user, CompareRequest(request_id="c", **request))
    for turn, _ in created:  # as if each had run and answered
        Turn.objects.filter(id=turn.id).update(status="completed")
        Message.objects.create(turn=turn, index=0, role="assistant", channel="final",
                               text=f"{turn.effort} says 408")
    return [turn for turn, _ in created]


def test_a_comparisons_turns_see_the_history_but_never_enter_it(ada):
    conversation = Conversation.objects.create(user=ada, title="t")
    answered(conversation, "first", "one")
    low, medium, high = compared(ada, conversation_id=conversation.id, text="12 * 34?")
    expected = [("user", "first"), ("assistant", "one")]
    for turn in (low, medium, high):
        assert texts(turn.history()) == expected
    later, _ = turns.create_turn(ada, TurnRequest(request_id="r", conversation_id=conversation.id,
                                                  text="next", effort="low"))
    assert texts(later.history()) == expected, "the comparison's answers are not in the history"


def test_comparing_an_earlier_turn_uses_the_history_that_turn_saw(ada):
    conversation = Conversation.objects.create(user=ada, title="t")
    answered(conversation, "first", "one")
    second = answered(conversation, "second", "two")
    answered(conversation, "third", "three")
    for turn in compared(ada, turn_id=second.id):
        assert turn.user_text == "second"
        assert texts(turn.history()) == [("user", "first"), ("assistant", "one")]


def test_comparing_a_regeneration_uses_its_originals_history(ada):
    conversation = Conversation.objects.create(user=ada, title="t")
    answered(conversation, "first", "one")
    original = answered(conversation, "second", "two")
    answered(conversation, "third", "three")
    regenerated = answered(conversation, "second", "two again", regenerated_from=original)
    for turn in compared(ada, turn_id=regenerated.id):
        assert texts(turn.history()) == [("user", "first"), ("assistant", "one")]


def test_a_comparisons_turn_cannot_be_regenerated(ada):
    low, _, _ = compared(ada, text="12 * 34?")
    with pytest.raises(FrameError) as refused:
        turns.create_turn(ada, TurnRequest(request_id="r", conversation_id=low.conversation_id,
                                           text="12 * 34?", effort="high", regenerated_from=low.id))
    assert refused.value.code == "invalid" and "comparison" in refused.value.message


def test_the_conversation_payload_lists_comparisons_apart_from_its_turns(ada):
    conversation = Conversation.objects.create(user=ada, title="t")
    first = answered(conversation, "first", "one")
    compared_turns = compared(ada, turn_id=first.id)
    fresh = compared(ada, conversation_id=conversation.id, text="again?")
    payload = conversation_payload(conversation)
    assert [t["turn_id"] for t in payload["turns"]] == [first.id]
    by_source = [(c["source_turn_id"], c["user_text"]) for c in payload["comparisons"]]
    assert by_source == [(first.id, "first"), (None, "again?")]
    drawn = payload["comparisons"][0]["turns"]
    assert [t["effort"] for t in drawn] == ["low", "medium", "high"]
    assert [t["turn_id"] for t in drawn] == [t.id for t in compared_turns]
    queued = drawn[0]["frames"][0]
    assert (queued["type"], queued["comparison_id"], queued["effort"]) == (
        "turn.queued", payload["comparisons"][0]["comparison_id"], "low")
    assert drawn[2]["frames"][-1]["type"] == "turn.done"
    assert payload["comparisons"][1]["turns"][0]["turn_id"] == fresh[0].id


def test_the_conversation_api_serves_the_comparisons_to_their_owner_only(ada, make_user):
    [low, _, _] = compared(ada, text="12 * 34?")
    client = Client()
    client.force_login(ada)
    payload = client.get(f"/api/conversations/{low.conversation_id}/").json()
    assert payload["comparisons"][0]["turns"][0]["turn_id"] == low.id
    client.force_login(make_user("bob"))
    assert client.get(f"/api/conversations/{low.conversation_id}/").status_code == 404
