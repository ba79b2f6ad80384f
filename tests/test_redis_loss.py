"""Redis down and back, and what a Redis without persistence forgets.

- While Redis does not answer, a frame that needs it is refused with an `error` frame
  (`unavailable`, `retry_after_s`), the socket stays open and nothing is stored.
- A queued turn whose task message the broker lost (a Redis restarted without persistence) is
  sent again by the sweep, with the same task id, or failed if the broker refuses it; a turn
  whose message is still queued or reserved by a worker is left alone.
"""

import json

import pytest

from factories import stored_turn
from factories import turn_create as create
from inference.live_stack import free_port
from webapp.chat import live, sweeper, turns
from webapp.chat.frames import TurnRequest
from webapp.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)


# ---- Redis down: the consumer ----------------------------------------------------------------

def test_frames_needing_redis_are_refused_unavailable_while_it_is_down(settings, make_user,
                                                                       socket_for):
    ada = make_user("ada")
    earlier = stored_turn(ada)
    socket = socket_for(ada)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    errors = socket.exchange(create(request_id="down"),
                             {"type": "turn.subscribe", "turn_id": earlier.id})
    assert [e["code"] for e in errors] == ["unavailable", "unavailable"]
    assert errors[0]["request_id"] == "down" and errors[1]["turn_id"] == earlier.id
    assert all(e["retry_after_s"] > 0 for e in errors), "a retry hint"
    assert list(Turn.objects.all()) == [earlier], "a refused turn.create stores nothing"


# ---- lost queued turns: the sweep ------------------------------------------------------------

def queued_turn(user, text="Hi") -> Turn:
    request = TurnRequest(request_id="r", conversation_id=None, text=text, effort="low",
                          settings={}, regenerated_from=None)
    turn, _ = turns.create_turn(user, request)
    assert turns.enqueue(turn, turns.RUN_TASK) is None
    return turn


def forget_message(task_id: str) -> None:
    """What a Redis restarted without persistence does to one task: its message is gone."""
    client = live.sync_client()
    name = f"{sweeper.broker_prefix()}gpu"
    for raw in client.lrange(name, 0, -1):
        if json.loads(raw)["headers"]["id"] == task_id:
            client.lrem(name, 0, raw)


def queued_ids(task_id: str) -> int:
    client = live.sync_client()
    return sum(json.loads(raw)["headers"]["id"] == task_id
               for raw in client.lrange(f"{sweeper.broker_prefix()}gpu", 0, -1))


@pytest.fixture
def lost(make_user, live_state):
    turn = queued_turn(make_user("ada"))
    assert turn.celery_task_id in sweeper.broker_task_ids()
    forget_message(turn.celery_task_id)
    assert turn.celery_task_id not in sweeper.broker_task_ids()
    yield turn
    forget_message(turn.celery_task_id)


def test_a_queued_turn_whose_message_was_lost_is_sent_again_with_its_task_id(lost):
    assert sweeper.requeue_lost_turns(older_than=3600) == ([], []), "too young to be lost"
    resent, failed = sweeper.requeue_lost_turns(older_than=0)
    assert resent == [lost.id] and failed == []
    assert queued_ids(lost.celery_task_id) == 1, "back in the gpu queue, same task id"
    lost.refresh_from_db()
    assert lost.status == "queued"
    assert sweeper.requeue_lost_turns(older_than=0) == ([], []), "sent once, not again"
    assert queued_ids(lost.celery_task_id) == 1


def test_the_periodic_sweep_resends_lost_turns(lost, settings):
    settings.CHAT_LOST_TURN_SECONDS = 0.001
    assert sweeper.Sweeper("test", period=1).sweep_once() == 0
    assert queued_ids(lost.celery_task_id) == 1


def test_a_turn_reserved_by_a_worker_is_not_sent_again(lost):
    client = live.sync_client()
    unacked = f"{sweeper.broker_prefix()}unacked"
    message = {"headers": {"id": lost.celery_task_id}, "properties": {}, "body": ""}
    client.hset(unacked, "tag-test", json.dumps([message, "", "gpu"]))
    try:
        assert sweeper.requeue_lost_turns(older_than=0) == ([], [])
    finally:
        client.hdel(unacked, "tag-test")
    assert queued_ids(lost.celery_task_id) == 0


def test_a_lost_turn_the_broker_refuses_is_failed_with_its_turn_done(lost, monkeypatch):
    from webapp.celery import app

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")
    monkeypatch.setattr(app, "send_task", refuse)
    resent, [done] = sweeper.requeue_lost_turns(older_than=0)
    assert resent == []
    assert done["type"] == "turn.done" and done["turn_id"] == lost.id
    assert done["status"] == "failed" and done["error"]["code"] == "queue_unavailable"
    lost.refresh_from_db()
    assert lost.status == "failed"
