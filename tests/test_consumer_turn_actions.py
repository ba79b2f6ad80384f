"""What the consumer does with turn.cancel and tool.output on the user's own turns: the
client's answer to the awaited call re-queues the turn (turn.queued again) for the resume
task; an answer to another call, a second answer, or cancelling a turn that has ended is
`bad_state`; cancelling a queued turn ends it at once with turn.done."""

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from tests.factories import stored_turn

pytestmark = pytest.mark.django_db(transaction=True)


def turn_of(user, **fields):
    return stored_turn(user, request_id="r5", user_text="Weather?", effort="medium", **fields)



def test_the_awaited_calls_output_requeues_the_turn(ada, socket_for):
    turn = turn_of(ada, status="awaiting", started_at=timezone.now(), celery_task_id="old",
                   pending_call={"call_id": "c7", "name": "get_weather", "arguments": {}})
    wrong, queued, again = socket_for(ada).exchange(
        {"type": "tool.output", "turn_id": turn.id, "call_id": "c8", "output": "sunny"},
        {"type": "tool.output", "turn_id": turn.id, "call_id": "c7", "output": "sunny"},
        {"type": "tool.output", "turn_id": turn.id, "call_id": "c7", "output": "rain"},
    )
    assert (wrong["code"], wrong["turn_id"]) == ("bad_state", turn.id) and "c7" in wrong["message"]
    assert queued["type"] == "turn.queued" and queued["turn_id"] == turn.id
    assert queued["request_id"] == "r5" and queued["queue_position"] == 0
    assert again["code"] == "bad_state"
    turn.refresh_from_db()
    assert turn.status == "queued" and turn.pending_call["output"] == "sunny"
    assert turn.celery_task_id not in ("", "old"), "a new task for the resume"


def test_cancelling_a_queued_turn_ends_it_and_an_ended_turn_cannot_be_cancelled(ada, socket_for):
    turn = turn_of(ada)
    done, late = socket_for(ada).exchange({"type": "turn.cancel", "turn_id": turn.id},
                          {"type": "turn.cancel", "turn_id": turn.id})
    assert done["type"] == "turn.done" and done["status"] == "cancelled" and done["error"] is None
    assert late["code"] == "bad_state" and "cancelled" in late["message"]
    turn.refresh_from_db()
    assert turn.status == "cancelled" and turn.metrics == done["metrics"]


def test_cancelling_a_running_turn_sets_the_flag_its_worker_polls(ada, socket_for):
    from webapp.chat import live

    turn = turn_of(ada, status="running", started_at=timezone.now())
    socket = socket_for(ada)

    async def scenario():
        assert await socket.open()
        await socket.send({"type": "turn.cancel", "turn_id": turn.id})
        quiet = await socket.nothing(0.3)  # turn.done comes from the worker when it stops
        await socket.close()
        return quiet
    assert async_to_sync(scenario)()
    assert live.cancel_requested(turn.id)
    turn.refresh_from_db()
    assert turn.status == "running"


def test_a_turn_the_broker_refuses_fails_at_once_with_the_reason(ada, socket_for, monkeypatch):
    from webapp.celery import app
    from webapp.chat.models import Turn

    def refuse(*args, **kwargs):
        raise ConnectionError("broker away")

    monkeypatch.setattr(app, "send_task", refuse)
    socket = socket_for(ada)

    async def scenario():
        assert await socket.open()
        await socket.send({"type": "turn.create", "request_id": "q1", "conversation_id": None,
                           "text": "hi", "effort": "low"})
        frames = await socket.take(2)
        await socket.close()
        return frames
    queued, done = async_to_sync(scenario)()
    assert queued["type"] == "turn.queued" and done["type"] == "turn.done"
    assert done["status"] == "failed" and done["error"]["code"] == "queue_unavailable"
    assert "broker away" in done["error"]["message"]
    turn = Turn.objects.get(id=queued["turn_id"])
    assert turn.status == "failed" and turn.error == done["error"]
