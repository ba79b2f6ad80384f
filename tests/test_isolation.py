"""A user cannot read or act on another user's conversation or turn through the socket:
cancel, tool.output, subscribe, continuing a conversation or regenerating a turn of someone
else's is answered `not_found` (the same as a turn that does not exist, so ids reveal
nothing), changes nothing, and no frame of the other user's turn reaches the socket."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from webapp.chat import live
from webapp.chat.models import Conversation, Message, Turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def adas_turns(make_user):
    """Ada's conversation with a turn paused on a function call and one still queued."""
    ada = make_user("ada")
    conversation = Conversation.objects.create(user=ada, title="Ada's")
    awaiting = Turn.objects.create(
        conversation=conversation, request_id="a1", user_text="Weather in Paris?", effort="low",
        status="awaiting", settings={"tools": [{"name": "get_weather"}]}, started_at=timezone.now(),
        pending_call={"call_id": "call_1_1", "name": "get_weather", "arguments": {"city": "Paris"}})
    Message.objects.create(turn=awaiting, index=0, role="assistant", channel="analysis",
                           text="Ada's private text", tokens=3)
    Message.objects.create(turn=awaiting, index=1, role="assistant", channel="commentary",
                           recipient="functions.get_weather", content_type="<|constrain|>json",
                           text='{"city": "Paris"}', tokens=5, call_id="call_1_1")
    queued = Turn.objects.create(conversation=conversation, request_id="a2", user_text="Private",
                                 effort="low")
    return conversation, awaiting, queued



def test_another_users_turns_cannot_be_cancelled_answered_or_followed(make_user, socket_for,
                                                                      adas_turns):
    conversation, awaiting, queued = adas_turns
    mallory = socket_for(make_user("mallory"))
    errors = mallory.exchange(
        {"type": "turn.cancel", "turn_id": queued.id},
        {"type": "turn.cancel", "turn_id": awaiting.id},
        {"type": "tool.output", "turn_id": awaiting.id, "call_id": "call_1_1", "output": "hail"},
        {"type": "turn.subscribe", "turn_id": awaiting.id},
        {"type": "turn.cancel", "turn_id": 999999},  # one that does not exist: the same answer
    )
    assert [e["type"] for e in errors] == ["error"] * 5
    assert [e["code"] for e in errors] == ["not_found"] * 5
    assert all("Ada" not in e["message"] and "Paris" not in e["message"] for e in errors)
    awaiting.refresh_from_db()
    queued.refresh_from_db()
    assert (awaiting.status, awaiting.pending_call.get("output")) == ("awaiting", None)
    assert queued.status == "queued"


def test_another_users_conversation_cannot_be_continued_or_regenerated(make_user, socket_for,
                                                                       adas_turns):
    conversation, awaiting, _ = adas_turns
    mallory = make_user("mallory")
    own = Conversation.objects.create(user=mallory, title="mine")
    errors = socket_for(mallory).exchange(
        {"type": "turn.create", "request_id": "m1", "conversation_id": conversation.id,
         "text": "Tell me Ada's secrets", "effort": "low"},
        {"type": "turn.create", "request_id": "m2", "conversation_id": own.id,
         "text": "again", "effort": "high", "regenerated_from": awaiting.id},
    )
    assert [(e["code"], e["request_id"]) for e in errors] == [("not_found", "m1"), ("not_found", "m2")]
    assert conversation.turns.count() == 2 and not own.turns.exists()


def test_frames_of_another_users_turn_never_reach_the_socket(make_user, socket_for, adas_turns):
    _, awaiting, queued = adas_turns
    mallory = socket_for(make_user("mallory"))

    async def scenario():
        assert await mallory.open()
        await mallory.send({"type": "turn.subscribe", "turn_id": queued.id})
        assert (await mallory.recv())["code"] == "not_found"
        client = live.async_client()
        await live.append_and_send(client, get_channel_layer(), queued.id,
                                   {"type": "message.delta", "turn_id": queued.id, "index": 0,
                                    "text": "secret"})
        await client.aclose()
        assert await mallory.nothing(0.5)
        await mallory.close()
    async_to_sync(scenario)()


def test_the_owner_can_follow_and_cancel_their_own_turns(make_user, socket_for, adas_turns):
    from django.contrib.auth import get_user_model

    _, awaiting, queued = adas_turns
    ada = socket_for(get_user_model().objects.get(username="ada"))

    async def scenario():
        assert await ada.open()
        await ada.send({"type": "turn.subscribe", "turn_id": awaiting.id})
        replay = await ada.until_type("tool.awaiting")
        await ada.send({"type": "turn.cancel", "turn_id": queued.id})
        done = await ada.recv()
        await ada.close()
        return replay, done
    replay, done = async_to_sync(scenario)()
    assert [f["type"] for f in replay] == [
        "turn.queued", "turn.started", "message.start", "message.delta", "message.end",
        "message.start", "message.delta", "message.end", "tool.call", "tool.awaiting"]
    assert replay[3]["text"] == "Ada's private text"
    assert replay[-1] == {"type": "tool.awaiting", "turn_id": awaiting.id, "call_id": "call_1_1",
                          "name": "get_weather", "arguments": {"city": "Paris"}}
    assert done["type"] == "turn.done" and done["status"] == "cancelled"
    assert done["metrics"]["effort"] == "low" and done["metrics"]["queue_ms"] is not None
    queued.refresh_from_db()
    assert queued.status == "cancelled" and queued.finished_at is not None
