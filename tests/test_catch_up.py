"""turn.subscribe (docs/protocol.md): a browser that reloads or reconnects gets a turn from its
start — turn.queued, then what was streamed so far — and then its live frames, each once."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from inference import events
from webapp.chat import live
from tests.factories import stored_turn
from webapp.chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

NO_WORKERS = {"ready": 0, "loading": 0, "failed": 0, "slots": 0}  # none runs in these tests


def turn_of(user, **fields):
    return stored_turn(user, request_id="r9", user_text="Hi", effort="low", **fields)


async def publish(turn_id, frame):
    client = live.async_client()
    await live.append_and_send(client, get_channel_layer(), turn_id, frame)
    await client.aclose()


def subscribe_around(socket, turn_id, later, earlier=(), *, catch_up, live_frames=1):
    """Publish `earlier` to the turn's log, open the socket, send turn.subscribe and receive the
    catch-up (`await catch_up(socket)`: as many frames as expected, or up to the frame that
    ends it), then publish `later` and receive `live_frames` frames live; nothing else may
    arrive. Returns (caught_up, live)."""
    async def scenario():
        for frame in earlier:
            await publish(turn_id, frame)
        assert await socket.open()
        await socket.send({"type": "turn.subscribe", "turn_id": turn_id})
        caught_up = await catch_up(socket)
        await publish(turn_id, later)
        live_got = await socket.take(live_frames)
        assert await socket.nothing(), "nothing more than expected arrives"
        await socket.close()
        return caught_up, live_got
    return async_to_sync(scenario)()


def test_a_running_turn_is_sent_from_its_log_then_live(ada, socket_for):
    turn = turn_of(ada, status="running", started_at=timezone.now(), worker="w")
    live.mark_alive(turn.id)
    streamed = [events.turn_started(turn.id, "nano", "cpu", "w"),
                events.message_start(turn.id, 0, "assistant", "analysis", None, None),
                events.message_delta(turn.id, 0, "Thinking")]
    caught_up, live_frames = subscribe_around(
        socket_for(ada), turn.id, events.message_delta(turn.id, 0, " harder"), streamed,
        catch_up=lambda socket: socket.take(1 + len(streamed)))

    # next_seq 0: the log follows from its start
    assert caught_up[0] == {**events.turn_queued("r9", turn.conversation_id, turn.id, 0, NO_WORKERS),
                            "next_seq": 0}
    assert caught_up[1:] == [{**f, "seq": n} for n, f in enumerate(streamed)]
    assert live_frames == [{**events.message_delta(turn.id, 0, " harder"), "seq": 3}]


def test_a_queued_turn_gets_its_position_then_the_workers_frames(ada, socket_for):
    turn_of(ada)  # ahead in the queue
    turn = turn_of(ada)
    caught_up, live_frames = subscribe_around(
        socket_for(ada), turn.id, events.turn_started(turn.id, "nano", "cpu", "w"),
        catch_up=lambda socket: socket.take(1))
    assert caught_up == [{**events.turn_queued("r9", turn.conversation_id, turn.id, 1, NO_WORKERS),
                          "next_seq": 0}]
    assert [f["type"] for f in live_frames] == ["turn.started"]


def test_an_awaiting_turn_is_rebuilt_from_the_database_and_followed(ada, socket_for):
    turn = turn_of(ada, status="awaiting", started_at=timezone.now(), worker="w",
                   pending_call={"call_id": "c1", "name": "lookup", "arguments": {}})
    Message.objects.create(turn=turn, index=0, role="assistant", channel="commentary",
                           recipient="functions.lookup", text="{}", call_id="c1", tokens=1)
    # what the worker published before the pause
    before_pause = [events.message_delta(turn.id, 0, str(n)) for n in range(4)]
    caught_up, live_frames = subscribe_around(
        socket_for(ada), turn.id, events.turn_started(turn.id, "nano", "cpu", "w2"), before_pause,
        catch_up=lambda socket: socket.until_type("tool.awaiting"))
    assert [f["type"] for f in caught_up] == [
        "turn.queued", "turn.started", "message.start", "message.delta", "message.end",
        "tool.call", "tool.awaiting"]
    assert caught_up[0]["next_seq"] == 4, "the rebuilt frames have no seq; the live ones go on at 4"
    assert live_frames == [{**events.turn_started(turn.id, "nano", "cpu", "w2"), "seq": 4}]


def test_a_finished_turn_is_replayed_and_not_followed(ada, socket_for):
    metrics = {k: None for k in events.METRIC_KEYS} | {"effort": "low"}
    turn = turn_of(ada, status="completed", started_at=timezone.now(), metrics=metrics)
    Message.objects.create(turn=turn, index=0, role="assistant", channel="final", text="Hello.",
                           tokens=2)
    caught_up, after = subscribe_around(
        socket_for(ada), turn.id, events.message_delta(turn.id, 0, "late"),
        catch_up=lambda socket: socket.until_type("turn.done"), live_frames=0)
    assert caught_up[-1] == events.turn_done(turn.id, "completed", metrics)
    assert [f.get("text") for f in caught_up if f["type"] == "message.delta"] == ["Hello."]
    assert after == []
