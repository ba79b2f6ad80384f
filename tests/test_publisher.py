"""The worker's publisher sends what queued up since its last pass together: every turn's frames
to its log in one Redis round trip, each turn's frames to its group as one channel-layer
message (`turn.frames`; `turn.frame` for a single one), with `seq` counted on across passes;
and the consumer relays a batch frame by frame, in order, to the sockets following the turn."""

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from inference import events
from tests.factories import stored_turn
from webapp.chat import live

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingLayer:
    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


def delta(turn_id, text):
    return events.message_delta(turn_id, 0, text)


def test_a_pass_logs_every_turn_at_once_and_sends_one_message_per_turn(live_state):
    layer, called = RecordingLayer(), []
    first = [(1, delta(1, "a"), None), (2, delta(2, "x"), lambda: called.append(2)),
             (1, delta(1, "b"), lambda: called.append(1)), (1, delta(1, "c"), None)]
    second = [(1, delta(1, "d"), None)]

    async def passes():
        client = live.async_client()
        try:
            await live.Publisher._send(client, layer, first)
            await live.Publisher._send(client, layer, second)
            return await live.logged_frames(client, 1), await live.logged_frames(client, 2)
        finally:
            await client.aclose()

    log_1, log_2 = async_to_sync(passes)()
    assert [f["text"] for f in log_1] == ["a", "b", "c", "d"] and [f["seq"] for f in log_1] == [0, 1, 2, 3]
    assert log_2 == [{**delta(2, "x"), "seq": 0}]
    assert sorted(called) == [1, 2], "each on_sent once its turn's frames are out"
    assert layer.sent == [
        ("turn.1", {"type": "turn.frames", "frames": log_1[:3]}),
        ("turn.2", {"type": "turn.frame", "frame": log_2[0]}),
        ("turn.1", {"type": "turn.frame", "frame": log_1[3]}),
    ]


def test_the_shared_publisher_keeps_each_turns_order_under_many_frames(live_state):
    publisher = live.Publisher()
    for n in range(300):
        for turn_id in (11, 12, 13):
            publisher.publish(turn_id, delta(turn_id, str(n)))
    publisher.drain()

    async def read(turn_id):
        client = live.async_client()
        try:
            return await live.logged_frames(client, turn_id)
        finally:
            await client.aclose()

    for turn_id in (11, 12, 13):
        frames = async_to_sync(read)(turn_id)
        assert [f["text"] for f in frames] == [str(n) for n in range(300)]
        assert [f["seq"] for f in frames] == list(range(300))


def test_the_consumer_relays_a_batch_in_order_and_stops_following_at_turn_done(ada, socket_for):
    turn = stored_turn(ada, status="running", started_at=timezone.now(), worker="w")
    live.mark_alive(turn.id)
    done = events.turn_done(turn.id, "completed", {k: None for k in events.METRIC_KEYS})
    batch = [delta(turn.id, "one"), delta(turn.id, " two"), done]
    socket = socket_for(ada)

    async def scenario():
        from channels.layers import get_channel_layer

        assert await socket.open()
        await socket.send({"type": "turn.subscribe", "turn_id": turn.id})
        assert (await socket.recv())["type"] == "turn.queued"
        client = live.async_client()
        try:
            logged = await live.log_frames(client, {turn.id: batch})
            await live.send_frames(get_channel_layer(), turn.id, logged[turn.id])
            got = await socket.take(3)
            await live.send_frames(get_channel_layer(), turn.id, [{**delta(turn.id, "late"), "seq": 3}])
            assert await socket.nothing(), "no longer followed after turn.done"
        finally:
            await client.aclose()
            await socket.close()
        return got

    got = async_to_sync(scenario)()
    assert got == [{**f, "seq": n} for n, f in enumerate(batch)]


def test_drain_waits_for_what_was_published_before_it_not_for_later_frames(live_state, monkeypatch):
    """A turn that ends waits for its own frames only: other turns that keep streaming (here,
    through a channel layer that takes 50 ms a message, so that a pass is always under way)
    must not hold its turn.done, and its worker slot, back."""
    import asyncio
    import threading
    import time

    class SlowLayer(RecordingLayer):
        async def group_send(self, group, message):
            await asyncio.sleep(0.05)
            await super().group_send(group, message)

    layer = SlowLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    publisher = live.Publisher()
    streaming = threading.Event()
    streaming.set()

    def other_turn():
        n = 0
        while streaming.is_set():
            publisher.publish(21, delta(21, str(n)))
            n += 1
            time.sleep(0.01)

    feeder = threading.Thread(target=other_turn)
    feeder.start()
    try:
        time.sleep(0.1)
        publisher.publish(22, delta(22, "last words"))
        started = time.monotonic()
        publisher.drain(timeout=3)
        waited = time.monotonic() - started
    finally:
        streaming.clear()
        feeder.join()
    publisher.drain()
    assert waited < 1
    assert ("turn.22", {"type": "turn.frame", "frame": {**delta(22, "last words"), "seq": 0}}) in layer.sent
