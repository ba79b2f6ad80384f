"""A queued turn says why it waits: each worker process publishes whether it is loading its
model, ready (with its turn slots) or failed to load, and `turn.queued` carries the count of
each, so the browser can say "a worker is loading the model" instead of a bare "Queued"."""

from __future__ import annotations

import time

import pytest

from webapp.chat import live

pytestmark = pytest.mark.django_db(transaction=True)

CREATE = {"type": "turn.create", "request_id": "r1", "conversation_id": None, "text": "hi",
          "effort": "low"}


def queued_workers(socket_for, user):
    [queued] = socket_for(user).exchange(CREATE)
    assert queued["type"] == "turn.queued"
    return queued["workers"]


def test_no_worker_running_is_said_as_such(make_user, socket_for):
    assert queued_workers(socket_for, make_user()) == {"ready": 0, "loading": 0, "failed": 0, "slots": 0}


def test_a_loading_worker_then_ready_with_its_slots(make_user, socket_for):
    user = make_user()
    status = live.WorkerStatus("w1@host", engine="vllm", slots=16)
    status.start()
    try:
        assert queued_workers(socket_for, user) == {"ready": 0, "loading": 1, "failed": 0, "slots": 0}
        status.update(state="ready", model="gpt-oss-nano", device="cpu")
        assert queued_workers(socket_for, user) == {"ready": 1, "loading": 0, "failed": 0, "slots": 16}
    finally:
        status.stop()
    assert queued_workers(socket_for, user)["ready"] == 0, "a stopped worker is no longer listed"


def test_a_worker_that_could_not_load_is_counted_failed(make_user, socket_for):
    user = make_user()
    status = live.WorkerStatus("w2@host", engine="transformers", slots=1)
    status.start()
    try:
        status.update(state="failed", error="EngineError: no such folder")
        assert queued_workers(socket_for, user) == {"ready": 0, "loading": 0, "failed": 1, "slots": 0}
    finally:
        status.stop()


def test_a_dead_workers_status_is_dropped_once_it_expires(make_user, socket_for, monkeypatch):
    user = make_user()
    status = live.WorkerStatus("w3@host", engine="transformers", slots=1)
    status.start()
    status._stop.set()  # the process died: nothing refreshes its status any more
    assert queued_workers(socket_for, user)["loading"] == 1
    later = time.time() + live.WORKER_STATUS_TTL_S + 1
    monkeypatch.setattr(live.time, "time", lambda: later)
    assert queued_workers(socket_for, user)["loading"] == 0
    assert not live.sync_client().hexists(live.workers_key(), "w3@host"), "removed, not only hidden"
