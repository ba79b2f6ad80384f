"""Per-user limits: turn.create is refused while the user has CHAT_MAX_QUEUED_TURNS turns
waiting for a worker (too_many_turns) or has started CHAT_TURNS_PER_MINUTE turns in the last
60 s (rate_limited, a sliding window); each refusal carries `retry_after_s`, and a refused
turn.create uses up nothing. A worker runs at most CHAT_MAX_RUNNING_TURNS turns of one user at
once: a further one stays queued, its task sent again, while other users' turns go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from factories import stored_turn, turn_create as create
from scripted_engine import final_answer
from webapp.chat import live, tasks, turns
from webapp.chat.frames import TurnRequest
from webapp.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock(monkeypatch):
    now = [30_000_000 * 60.0]
    monkeypatch.setattr(live, "now", lambda: now[0])
    return now


def test_a_full_queue_refuses_turn_create_until_one_of_the_users_turns_leaves_it(
        make_user, socket_for, settings):
    settings.CHAT_MAX_QUEUED_TURNS = 2
    ada, bob = make_user("ada"), make_user("bob")
    first, second, third = socket_for(ada).exchange(create(request_id="a"), create(request_id="b"),
                                                    create(request_id="c"))
    assert [first["type"], second["type"]] == ["turn.queued"] * 2
    assert (third["type"], third["code"], third["request_id"]) == ("error", "too_many_turns", "c")
    assert third["retry_after_s"] == turns.QUEUE_FULL_RETRY_S == 5
    assert "2 of your turns are waiting" in third["message"]
    assert Turn.objects.count() == 2

    [other] = socket_for(bob).exchange(create(request_id="bob"))
    assert other["type"] == "turn.queued", "the limit is per user"

    Turn.objects.filter(id=first["turn_id"]).update(status="running")  # a worker took it
    cancelled, queued = socket_for(ada).exchange({"type": "turn.cancel", "turn_id": second["turn_id"]},
                                                 create(request_id="d"))
    assert cancelled["type"] == "turn.done"
    assert queued["type"] == "turn.queued" and queued["request_id"] == "d"


def test_a_refused_turn_create_does_not_use_up_the_minute(make_user, socket_for, settings, clock):
    settings.CHAT_TURNS_PER_MINUTE = 2
    settings.CHAT_MAX_QUEUED_TURNS = 1
    ada = make_user("ada")
    got = socket_for(ada).exchange(
        create(conversation_id=999),  # not_found
        create(request_id="1"),
        create(request_id="full"),  # too_many_turns
        create(text=""),  # invalid
    )
    assert [g.get("code", g["type"]) for g in got] == ["not_found", "turn.queued",
                                                      "too_many_turns", "invalid"]
    Turn.objects.update(status="completed")
    [second, third] = socket_for(ada).exchange(create(request_id="2"), create(request_id="3"))
    assert second["type"] == "turn.queued", "only the one turn started counted"
    assert (third["code"], third["retry_after_s"]) == ("rate_limited", 60.0)


def test_starts_leave_the_window_one_by_one(make_user, socket_for, settings, clock):
    settings.CHAT_TURNS_PER_MINUTE = 2
    ada = make_user("ada")
    start = clock[0]
    socket = lambda: socket_for(ada)  # noqa: E731
    assert socket().exchange(create())[0]["type"] == "turn.queued"  # at 0 s
    clock[0] = start + 40
    assert socket().exchange(create())[0]["type"] == "turn.queued"  # at 40 s
    clock[0] = start + 50
    [refused] = socket().exchange(create())
    assert refused["retry_after_s"] == 10.0, "when the start at 0 s leaves"
    clock[0] = start + 60
    [ok, refused] = socket().exchange(create(), create())
    assert ok["type"] == "turn.queued"
    assert refused["retry_after_s"] == 40.0, "when the start at 40 s leaves"


def test_the_window_is_shared_by_the_users_sockets(make_user, socket_for, settings, clock):
    settings.CHAT_TURNS_PER_MINUTE = 1
    ada = make_user("ada")
    assert socket_for(ada).exchange(create())[0]["type"] == "turn.queued"
    assert socket_for(ada).exchange(create())[0]["code"] == "rate_limited"
    assert socket_for(make_user("bob")).exchange(create())[0]["type"] == "turn.queued"


# ---- running turns: the worker's claim ----

@pytest.fixture
def engine(worker_engine):
    return worker_engine(*[final_answer(f"Answer {i}.") for i in range(4)])


@pytest.fixture
def sent_tasks(monkeypatch):
    """Tasks handed to the broker, recorded instead of sent."""
    from webapp.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw)))
    return sent


def new_turn(user):
    request = TurnRequest(request_id="r", conversation_id=None, text="Hi", effort="low",
                          settings={"builtin_tools": []})
    return turns.create_turn(user, request)[0]


def test_a_users_turn_over_the_running_limit_waits_queued_while_others_run(
        make_user, engine, sent_tasks, settings):
    settings.CHAT_MAX_RUNNING_TURNS = 1
    ada, bob = make_user("ada"), make_user("bob")
    running = stored_turn(ada, status="running")
    waiting, bobs = new_turn(ada), new_turn(bob)
    task_id = waiting.celery_task_id

    tasks.execute(waiting.id, "worker-1", resume=False)
    waiting.refresh_from_db()
    assert waiting.status == "queued" and not engine.prompts, "not run"
    assert [(name, kw["args"], kw["countdown"]) for name, kw in sent_tasks] == [
        (turns.RUN_TASK, [waiting.id], turns.RUNNING_LIMIT_RETRY_S)]
    assert sent_tasks[0][1]["task_id"] == waiting.celery_task_id != task_id
    assert live.alive_turn_ids([waiting.id]) == set(), "no heartbeat left for a turn not running"
    assert turns.fail_stale_turns([waiting.id]) == []

    tasks.execute(bobs.id, "worker-1", resume=False)
    bobs.refresh_from_db()
    assert bobs.status == "completed", "another user's turn is not held up"

    Turn.objects.filter(id=running.id).update(status="completed")
    tasks.execute(waiting.id, "worker-1", resume=False)  # the task sent again
    waiting.refresh_from_db()
    assert waiting.status == "completed" and len(engine.prompts) == 2


def test_a_duplicate_delivery_over_the_running_limit_is_dropped_not_multiplied(
        make_user, engine, sent_tasks, settings):
    """Only the task the turn waits for defers it: a redelivered or re-sent copy (an older task
    id) is dropped, so deferrals never multiply."""
    settings.CHAT_MAX_RUNNING_TURNS = 1
    ada = make_user("ada")
    stored_turn(ada, status="running")
    waiting = new_turn(ada)
    current = waiting.celery_task_id
    tasks.execute(waiting.id, "worker-1", resume=False, task_id="an-older-copy")
    assert not sent_tasks and Turn.objects.get(id=waiting.id).celery_task_id == current
    tasks.execute(waiting.id, "worker-1", resume=False, task_id=current)
    assert len(sent_tasks) == 1 and sent_tasks[0][1]["task_id"] != current
    tasks.execute(waiting.id, "worker-1", resume=False, task_id=current)  # the same copy again
    assert len(sent_tasks) == 1


def test_the_running_limit_counts_only_running_turns(make_user, engine, sent_tasks, settings):
    settings.CHAT_MAX_RUNNING_TURNS = 2
    ada = make_user("ada")
    stored_turn(ada, status="running")
    for status in ("queued", "awaiting", "completed", "failed"):
        stored_turn(ada, status=status)
    turn = new_turn(ada)
    tasks.execute(turn.id, "worker-1", resume=False)
    turn.refresh_from_db()
    assert turn.status == "completed" and not sent_tasks


@pytest.mark.parametrize("name", ["CHAT_MAX_QUEUED_TURNS", "CHAT_MAX_RUNNING_TURNS"])
def test_the_limits_are_parsed_strictly(name):
    probe = f"import webapp.settings as s; print(s.{name})"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    for value, message in (("3", None), ("three", f"{name}='three' is not an integer"),
                           ("0", f"{name}=0 must be >= 1")):
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, name: value},
                              capture_output=True, text=True, timeout=120)
        if message is None:
            assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr
        else:
            assert done.returncode != 0 and message in done.stderr, done.stderr
