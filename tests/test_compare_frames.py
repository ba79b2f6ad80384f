"""turn.compare on the real consumer: one turn.queued per effort (low, medium, high), each
carrying the comparison and its effort, all three turns stored and queued at once; from an
earlier turn the prompt, settings and conversation are that turn's; bad input is a clear
`error` that stores nothing; the rate and queue limits count a comparison as three turns."""

from __future__ import annotations

import pytest

from factories import stored_turn, turn_compare as compare, turn_create as create
from webapp.chat.models import Comparison, Turn

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_prompt_is_queued_once_per_effort_in_one_comparison(ada, socket_for):
    settings = {"temperature": 0.5, "builtin_tools": []}
    low, medium, high = socket_for(ada).exchange(compare(settings=settings), replies=3)
    assert [f["type"] for f in (low, medium, high)] == ["turn.queued"] * 3
    assert [f["effort"] for f in (low, medium, high)] == ["low", "medium", "high"]
    assert len({f["comparison_id"] for f in (low, medium, high)}) == 1
    assert len({f["turn_id"] for f in (low, medium, high)}) == 3
    assert {f["request_id"] for f in (low, medium, high)} == {"c1"}
    assert [f["queue_position"] for f in (low, medium, high)] == [0, 1, 2]
    comparison = Comparison.objects.get(id=low["comparison_id"])
    assert comparison.source_turn is None and comparison.conversation.user == ada
    stored = list(comparison.turns.order_by("id"))
    assert [t.effort for t in stored] == ["low", "medium", "high"]
    assert {t.user_text for t in stored} == {"What is 12 * 34?"}
    assert all(t.settings["temperature"] == 0.5 and t.settings["builtin_tools"] == [] for t in stored)
    assert all(t.status == "queued" and t.celery_task_id for t in stored)


def test_an_earlier_turn_is_compared_with_its_own_text_settings_and_conversation(ada, socket_for):
    source = stored_turn(ada, user_text="Why is the sky blue?", effort="medium", status="completed",
                         settings={"temperature": 0.2, "seed": 7})
    frames = socket_for(ada).exchange({"type": "turn.compare", "request_id": "again",
                                       "turn_id": source.id}, replies=3)
    assert [f["effort"] for f in frames] == ["low", "medium", "high"]
    assert {f["conversation_id"] for f in frames} == {source.conversation_id}
    comparison = Comparison.objects.get()
    assert comparison.source_turn == source and comparison.conversation == source.conversation
    for turn in comparison.turns.all():
        assert (turn.user_text, turn.settings) == ("Why is the sky blue?", source.settings)


@pytest.mark.parametrize("frame, code, names", [
    (compare(text=""), "invalid", "text"),
    (compare(effort="high"), "invalid", "effort"),
    (compare(settings={"temperature": 9}), "invalid", "temperature"),
    (compare(conversation_id=999), "not_found", "999"),
    ({"type": "turn.compare", "request_id": "c1", "turn_id": 999}, "not_found", "999"),
    ({"type": "turn.compare", "request_id": "c1", "turn_id": 1, "text": "x"}, "invalid", "text"),
    ({"type": "turn.compare", "request_id": "c1", "turn_id": "1"}, "invalid", "turn_id"),
    ({"type": "turn.compare", "request_id": 5, "text": "x"}, "invalid", "request_id"),
])
def test_bad_input_is_a_clear_error_and_stores_nothing(ada, socket_for, frame, code, names):
    [error] = socket_for(ada).exchange(frame)
    assert (error["type"], error["code"]) == ("error", code)
    assert names in error["message"]
    assert not Comparison.objects.exists() and not Turn.objects.exists()


def test_someone_elses_turn_cannot_be_compared(make_user, socket_for):
    ada, bob = make_user("ada"), make_user("bob")
    theirs = stored_turn(bob, status="completed")
    [error] = socket_for(ada).exchange({"type": "turn.compare", "request_id": "c1",
                                        "turn_id": theirs.id})
    assert error["code"] == "not_found" and not Comparison.objects.exists()


def test_the_queue_limit_counts_a_comparison_as_three_turns(ada, socket_for, settings):
    settings.CHAT_MAX_QUEUED_TURNS = 3
    first, refused = socket_for(ada).exchange(create(request_id="one"), compare(request_id="cmp"))
    assert first["type"] == "turn.queued"
    assert (refused["code"], refused["request_id"]) == ("too_many_turns", "cmp")
    assert "adds 3" in refused["message"] and refused["retry_after_s"] == 5
    assert Turn.objects.count() == 1 and not Comparison.objects.exists()
    Turn.objects.update(status="running")  # a worker took it: room for three
    frames = socket_for(ada).exchange(compare(request_id="cmp"), replies=3)
    assert [f["type"] for f in frames] == ["turn.queued"] * 3


def test_the_rate_limit_counts_a_comparison_as_three_turns_and_a_refusal_uses_up_nothing(
        ada, socket_for, settings):
    settings.CHAT_TURNS_PER_MINUTE = 4
    settings.CHAT_MAX_QUEUED_TURNS = 2  # the first comparison is refused by the queue limit
    got = socket_for(ada).exchange(compare(request_id="full"), create(request_id="one"))
    assert [g.get("code", g["type"]) for g in got] == ["too_many_turns", "turn.queued"]
    settings.CHAT_MAX_QUEUED_TURNS = 8
    frames = socket_for(ada).exchange(compare(request_id="fits"), replies=3)
    assert [f["type"] for f in frames] == ["turn.queued"] * 3, "1 + 3 turns fit in 4"
    [refused] = socket_for(ada).exchange(compare(request_id="over"))
    assert refused["code"] == "rate_limited" and refused["retry_after_s"] > 0
    assert "next 3" in refused["message"]
    assert Turn.objects.count() == 4


def test_a_comparison_larger_than_the_rate_limit_is_refused_outright(ada, socket_for, settings):
    settings.CHAT_TURNS_PER_MINUTE = 2
    [refused] = socket_for(ada).exchange(compare())
    assert refused["code"] == "rate_limited" and "retry_after_s" not in refused
    assert not Turn.objects.exists()
