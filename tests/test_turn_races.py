"""A turn's transitions hold when processes race for it, on SQLite and on PostgreSQL.

Each race runs its two sides in two threads, each with its own database connection, released
together by a barrier, many times over: two claims of one queued turn (one wins), a claim
against a cancel, a tool output against a cancel of an awaiting turn, the worker's end against
the sweep's `worker_lost`, and two tool outputs for one call. Whatever the interleaving, the
turn ends in exactly one state and exactly one side publishes its turn.done.

`test_the_races_on` runs the module in a pytest subprocess per database: SQLite in a file, as
deployed (WAL, immediate transactions, which serialise the writers; pytest-django's default
in-memory SQLite shares one cache between connections, where a writer meets "table is locked"
at once instead of waiting, so the races skip there), and PostgreSQL, a test database created
and dropped, where the conditional UPDATEs and row locks are what keep the sides apart."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from postgres_rerun import rerun, rerun_on_postgresql
from webapp.chat import live, turns
from webapp.chat.frames import FrameError, TurnRequest
from webapp.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)
SQLITE_FILE = "GPTOSS_RACES_SQLITE_FILE"  # set by the SQLite rerun: the test database's file

ROUNDS = 15
CALL = {"call_id": "call-1", "name": "get_weather", "arguments": {"city": "Paris"}}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """In the SQLite rerun (only this module runs there), the test database is a file."""
    from django.conf import settings

    if os.environ.get(SQLITE_FILE):
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ[SQLITE_FILE]


@pytest.fixture(autouse=True)
def racing_database(request):
    if request.node.name.startswith("test_the_races_on"):
        return
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite locks instead of waiting: test_the_races_on[sqlite] runs this")


def race(*sides):
    """Run each side in its own thread (its own connection) at the same moment; return what
    each returned, or the exception it raised."""
    barrier = threading.Barrier(len(sides))
    results: list = [None] * len(sides)

    def run(n, side):
        try:
            barrier.wait(timeout=10)
            results[n] = side()
        except BaseException as exc:  # noqa: BLE001 - the test judges it
            results[n] = exc
        finally:
            connection.close()
    threads = [threading.Thread(target=run, args=(n, side)) for n, side in enumerate(sides)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a side is stuck"
    return results


def new_turn(user, **state) -> Turn:
    request = TurnRequest(request_id="r", conversation_id=None, text="Hi", effort="low",
                          settings={})
    turn, _ = turns.create_turn(user, request)
    if state:
        Turn.objects.filter(id=turn.id).update(**state)
        turn.refresh_from_db()
    return turn


def bad_state(result) -> bool:
    return isinstance(result, FrameError) and result.code == "bad_state"


@pytest.mark.parametrize("max_running", [None, 5])
def test_two_claims_of_one_queued_turn_one_wins(make_user, max_running):
    ada = make_user("ada")
    for _ in range(ROUNDS):
        turn = new_turn(ada)
        first, second = race(lambda: turns.claim(turn.id, "w1", False, max_running),
                             lambda: turns.claim(turn.id, "w2", False, max_running))
        claimed = [r for r in (first, second) if r is not None]
        assert len(claimed) == 1 and isinstance(claimed[0], Turn), (first, second)
        turn.refresh_from_db()
        assert turn.status == "running" and turn.worker == claimed[0].worker
        Turn.objects.filter(id=turn.id).update(status="completed")  # not counted as running


def test_a_claim_and_a_cancel_of_a_queued_turn(make_user):
    ada = make_user("ada")
    for _ in range(ROUNDS):
        turn = new_turn(ada)
        claimed, (cancelled, done) = race(lambda: turns.claim(turn.id, "w1", False),
                                          lambda: turns.cancel_idle(ada, turn.id))
        turn.refresh_from_db()
        if claimed is None:  # the cancel came first: its turn.done ends the turn
            assert turn.status == "cancelled" and done["status"] == "cancelled"
        else:  # the worker holds it: the cancel leaves it to the worker (the flag)
            assert isinstance(claimed, Turn) and done is None
            assert turn.status == "running" and turn.worker == "w1"


def test_a_tool_output_and_a_cancel_of_an_awaiting_turn(make_user):
    ada = make_user("ada")
    for _ in range(ROUNDS):
        turn = new_turn(ada, status="awaiting", pending_call=CALL)
        accepted, cancel = race(lambda: turns.accept_tool_output(ada, turn.id, "call-1", "sunny"),
                                lambda: turns.cancel_idle(ada, turn.id))
        turn.refresh_from_db()
        # either order ends cancelled: output then cancel cancels the queued resume; cancel
        # then output refuses the output
        assert not isinstance(cancel, BaseException), cancel
        _, done = cancel
        assert turn.status == "cancelled" and done["status"] == "cancelled"
        if bad_state(accepted):
            assert "output" not in turn.pending_call
        else:
            assert isinstance(accepted, tuple), accepted
            assert turn.pending_call["output"] == "sunny"
        assert turns.claim(turn.id, "w1", resume=True) is None, "no worker resumes it"


def test_the_workers_end_and_the_sweeps_fail_one_end_one_turn_done(make_user, monkeypatch):
    monkeypatch.setattr(live, "alive_turn_ids", lambda ids: set())  # the heartbeat looks lost
    ada = make_user("ada")
    outcomes = set()
    for _ in range(ROUNDS):
        turn = new_turn(ada, status="running", worker="w1")
        finished, swept = race(
            lambda: turns.finish(turn, "w1", "completed", {"tokens": 3}, None, None),
            lambda: turns.fail_stale_turns([turn.id]))
        assert isinstance(finished, bool) and isinstance(swept, list), (finished, swept)
        dones = ([{"status": "completed"}] if finished else []) + swept
        assert len(dones) == 1, f"one turn.done, not {dones}"
        turn.refresh_from_db()
        assert turn.status == dones[0]["status"] and turn.finished_at is not None
        assert (turn.error is None) == finished
        outcomes.add(turn.status)
    assert outcomes <= {"completed", "failed"}


def test_two_tool_outputs_for_one_call_one_is_taken(make_user):
    ada = make_user("ada")
    for _ in range(ROUNDS):
        turn = new_turn(ada, status="awaiting", pending_call=CALL)
        results = race(lambda: turns.accept_tool_output(ada, turn.id, "call-1", "first"),
                       lambda: turns.accept_tool_output(ada, turn.id, "call-1", "second"))
        taken = [n for n, r in enumerate(results) if isinstance(r, tuple)]
        assert len(taken) == 1 and bad_state(results[1 - taken[0]]), results
        turn.refresh_from_db()
        assert turn.status == "queued"
        assert turn.pending_call["output"] == ("first", "second")[taken[0]]
        assert turn.celery_task_id == results[taken[0]][0].celery_task_id, "one resume task"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_races_on(database, tmp_path):
    if database == "postgresql":
        rerun_on_postgresql(__file__, passed=6, name="races", exclude="test_the_races_on")
    elif connection.vendor == "sqlite":
        rerun(__file__, 6, {SQLITE_FILE: str(tmp_path / "races.sqlite3")}, "test_the_races_on")
    else:
        pytest.skip("the SQLite run starts from the default database")
