"""A turn's end is written once, and its text reaches the database while it streams.

- The end state is a compare-and-set: a worker that finishes a turn a sweep has already failed
  (its heartbeat expired) neither flips it back nor publishes a second turn.done.
- The sink saves the open messages' text in batches: a worker killed mid-message (simulated by
  an engine that raises a BaseException, which nothing in the task catches, so nothing after it
  runs) leaves the text streamed so far in the database, at most the last batch missing; the
  sweep then fails the turn and what was generated is kept.
- The sweeper (webapp/chat/sweeper.py) fails such turns by itself, one process at a time.
"""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from factories import frame_log
from inference import harmony
from scripted_engine import ScriptedEngine, final_answer
from webapp.chat import live, sink, sweeper, tasks, turns, worker
from webapp.chat.frames import TurnRequest
from webapp.chat.models import Message, Turn

pytestmark = pytest.mark.django_db(transaction=True)

LONG = " ".join(f"word{n}" for n in range(120))


def new_turn(user, text="Say many words"):
    request = TurnRequest(request_id="r", conversation_id=None, text=text, effort="low",
                          settings={})
    turn, _ = turns.create_turn(user, request)
    return turn


class Killed(BaseException):
    """The worker process dying: no `except Exception` catches it, no end is written."""


class KilledEngine(ScriptedEngine):
    """Yields the first `kill_after` tokens of its completion, then the process 'dies'."""

    def __init__(self, completion, kill_after):
        super().__init__(completion)
        self.kill_after = kill_after

    def generate(self, prompt_ids, **kwargs):
        tokens = super().generate(prompt_ids, **kwargs)

        def dying():
            for n, token in enumerate(tokens):
                if n == self.kill_after:
                    raise Killed()
                yield token
        return dying()


@pytest.fixture
def seen_deltas(monkeypatch):
    """Every message.delta text the sink was handed (what the model generated), per index."""
    seen: dict[int, list[str]] = {}

    class Recording(sink.TurnSink):
        def __call__(self, frame):
            if frame["type"] == "message.delta":
                seen.setdefault(frame["index"], []).append(frame["text"])
            super().__call__(frame)
    monkeypatch.setattr(tasks, "TurnSink", Recording)
    return seen


def test_a_worker_finishing_a_swept_turn_does_not_flip_it_back(make_user, worker_engine,
                                                               monkeypatch):
    worker_engine(final_answer("Done at last."))
    turn = new_turn(make_user())
    real_run_turn = tasks.run_turn

    def swept_meanwhile(*args, **kwargs):
        # while this worker runs the turn, a sweeper wrongly thinks it dead (a stalled heartbeat)
        monkeypatch.setattr(live, "alive_turn_ids", lambda ids: set())
        for frame in turns.fail_stale_turns([turn.id]):
            live.publisher().publish(turn.id, frame)
        live.publisher().drain()
        return real_run_turn(*args, **kwargs)
    monkeypatch.setattr(tasks, "run_turn", swept_meanwhile)

    tasks.execute(turn.id, "worker-1", resume=False)

    turn.refresh_from_db()
    assert turn.status == "failed" and turn.error["code"] == "worker_lost"
    dones = [f for f in frame_log(turn.id) if f["type"] == "turn.done"]
    assert len(dones) == 1 and dones[0]["status"] == "failed", "one turn.done, the sweep's"
    assert turn.messages.get().text == "Done at last.", "what was generated is still stored"


def test_the_end_is_written_only_by_the_worker_running_the_turn(make_user, live_state):
    turn = new_turn(make_user())
    Turn.objects.filter(id=turn.id).update(status="running", worker="worker-1")
    assert not turns.finish(turn, "worker-2", "completed", {}, None, None)
    assert turns.finish(turn, "worker-1", "completed", {}, None, None)
    assert not turns.finish(turn, "worker-1", "failed", {}, None, None), "written once"
    turn.refresh_from_db()
    assert turn.status == "completed" and turn.finished_at is not None


def test_text_is_saved_while_it_streams(make_user, worker_engine, seen_deltas, settings,
                                        monkeypatch):
    settings.CHAT_STREAM_FLUSH_SECONDS = 3600  # batches by count only: the test is exact
    worker_engine()  # the test's live state
    monkeypatch.setattr(worker, "_engine", KilledEngine(final_answer(LONG), kill_after=90))
    turn = new_turn(make_user())

    with pytest.raises(Killed):
        tasks.execute(turn.id, "worker-1", resume=False)

    deltas = seen_deltas[0]
    assert len(deltas) > 2 * settings.CHAT_STREAM_FLUSH_TOKENS
    stored = Message.objects.get(turn=turn, index=0).text
    saved = [n for n in range(len(deltas) + 1) if "".join(deltas[:n]) == stored]
    assert stored and saved, "the stored text is what streamed, up to a delta"
    assert len(deltas) - saved[-1] < settings.CHAT_STREAM_FLUSH_TOKENS, "at most a batch lost"

    # the worker is gone (its heartbeat key went with the task); the sweep fails the turn
    [done] = turns.fail_stale_turns()
    turn.refresh_from_db()
    assert turn.status == "failed" and done["error"]["code"] == "worker_lost"
    assert turn.messages.get().text == stored, "the failed turn shows what was generated"


def test_saves_are_batched(make_user, worker_engine, settings):
    """A long answer is not one UPDATE per token: one per batch of the open message."""
    settings.CHAT_STREAM_FLUSH_SECONDS = 3600
    worker_engine(final_answer(LONG))
    turn = new_turn(make_user())
    with CaptureQueriesContext(connection) as queries:
        tasks.execute(turn.id, "worker-1", resume=False)
    turn.refresh_from_db()
    assert turn.status == "completed" and turn.messages.get().text == LONG
    tokens = len(harmony.encode(LONG))
    assert tokens > 3 * settings.CHAT_STREAM_FLUSH_TOKENS
    saves = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith('UPDATE "chat_message"')]
    assert len(saves) <= tokens // settings.CHAT_STREAM_FLUSH_TOKENS + 3, saves


def test_the_time_bound_saves_slow_streams(make_user, settings, live_state):
    turn = new_turn(make_user())
    now = [0.0]
    out = sink.TurnSink(turn, clock=lambda: now[0])
    out.coalescer = lambda frame: None  # nothing published: the storing alone is tested
    out({"type": "message.start", "turn_id": turn.id, "index": 0, "role": "assistant",
         "channel": "final", "recipient": None, "content_type": None})
    out({"type": "message.delta", "turn_id": turn.id, "index": 0, "text": "slow"})
    assert Message.objects.get(turn=turn).text == "", "not yet: a batch is neither full nor old"
    now[0] += settings.CHAT_STREAM_FLUSH_SECONDS
    out({"type": "message.delta", "turn_id": turn.id, "index": 0, "text": " words"})
    assert Message.objects.get(turn=turn).text == "slow words"


def test_the_sweeper_fails_a_lost_turn_by_itself_one_process_at_a_time(make_user, settings, live_state):
    settings.CHAT_STALE_TURN_SECONDS = 5
    turn = new_turn(make_user())
    Turn.objects.filter(id=turn.id).update(status="running", worker="celery@gone")
    first, second = sweeper.Sweeper("a"), sweeper.Sweeper("b")
    assert first.sweep_once() == 1
    assert second.sweep_once() is None, "the lock is held: the other process skips"
    turn.refresh_from_db()
    assert turn.status == "failed" and turn.error["code"] == "worker_lost"
    [done] = [f for f in frame_log(turn.id) if f["type"] == "turn.done"]
    assert done["status"] == "failed"


def test_the_sweeper_thread_runs_until_stopped(make_user, settings, live_state):
    settings.CHAT_STALE_TURN_SECONDS = 5
    turn = new_turn(make_user())
    Turn.objects.filter(id=turn.id).update(status="running", worker="celery@gone")
    thread = sweeper.Sweeper("site", period=0.2).start()
    try:
        deadline = time.monotonic() + 10
        while Turn.objects.get(id=turn.id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        thread.stop()
    assert Turn.objects.get(id=turn.id).status == "failed"
