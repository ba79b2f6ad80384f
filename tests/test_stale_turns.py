"""A turn whose worker died mid-turn does not stay `running` forever: without the worker's
heartbeat it is marked failed (`worker_lost`), keeping what was generated, when a worker
starts or when a browser subscribes to it; a turn whose worker is alive is left alone."""

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from webapp.chat import live, turns, worker
from webapp.chat.models import Conversation, Message, Turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running(make_user, live_state):
    def make(user="ada"):
        owner = make_user(user)
        conversation = Conversation.objects.create(user=owner, title="t")
        turn = Turn.objects.create(conversation=conversation, request_id="r", user_text="Hi",
                                   effort="medium", status="running", started_at=timezone.now(),
                                   worker="celery@gone", model="nano", device="cpu")
        Message.objects.create(turn=turn, index=0, role="assistant", channel="analysis",
                               text="Half a thought", tokens=3)
        return owner, turn
    return make


def test_running_turn_without_heartbeat_is_failed_at_worker_start(running):
    _, dead = running("ada")
    _, alive = running("bob")
    live.mark_alive(alive.id)

    worker.fail_turns_of_dead_workers()

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert alive.status == "running"
    assert dead.status == "failed" and dead.finished_at is not None
    assert dead.error["code"] == "worker_lost" and "celery@gone" in dead.error["message"]
    assert dead.messages.get().text == "Half a thought", "what was generated is kept"
    assert dead.metrics["model"] == "nano" and dead.metrics["effort"] == "medium"
    assert turns.fail_stale_turns() == [], "each turn is failed once"


def test_worker_start_publishes_turn_done_for_the_failed_turn(running):
    _, dead = running()
    worker.fail_turns_of_dead_workers()

    async def read():
        client = live.async_client()
        frames = await live.logged_frames(client, dead.id)
        await client.aclose()
        return frames
    [done] = async_to_sync(read)()
    assert done["type"] == "turn.done" and done["status"] == "failed"
    assert done["error"]["code"] == "worker_lost"


def test_subscribing_to_a_turn_whose_worker_died_ends_it(running, socket_for):
    owner, dead = running()
    socket = socket_for(owner)

    async def scenario():
        assert await socket.open()
        await socket.send({"type": "turn.subscribe", "turn_id": dead.id})
        frames = await socket.until_type("turn.done")
        assert await socket.nothing(), "nothing after turn.done"
        await socket.close()
        return frames
    frames = async_to_sync(scenario)()
    assert frames[0]["type"] == "turn.queued" and frames[-1]["type"] == "turn.done"
    assert frames[-1]["error"]["code"] == "worker_lost"
    assert "Half a thought" in [f.get("text") for f in frames], "the stored part is replayed"
    dead.refresh_from_db()
    assert dead.status == "failed"
