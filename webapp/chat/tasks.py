"""The worker side of a turn: a thin adapter between Celery, the database and inference.turn.

The turn loop itself (render, generate, parse, tools, metrics) is `inference.turn.run_turn`;
this module only claims the turn, builds the conversation from stored rows, publishes the
frames run_turn emits (coalesced) and stores the messages as they end and the turn when it
stops. Batched decoding, when it comes, stays inside the engine.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference import events, harmony
from inference.turn import run_turn, tool_message

from . import live, turns
from .frames import harmony_settings
from .models import Message, Turn

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.1  # how often a running turn asks Redis whether it was cancelled
HISTORY_STATUSES = (Turn.Status.COMPLETED, Turn.Status.LENGTH, Turn.Status.CANCELLED)

# ---- the model: loaded once per worker process ----------------------------------------------

_engine = None
_engine_lock = threading.Lock()


def engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from inference.engine import Engine

            started = time.perf_counter()
            _engine = Engine.load(settings.GPTOSS_MODEL or None, settings.GPTOSS_DEVICE or None)
            log.info("loaded %s on %s in %.1f s", _engine.model_name, _engine.device,
                     time.perf_counter() - started)
    return _engine


@worker_process_init.connect
def load_model_at_start(**kwargs):
    """In the process that runs tasks (the worker itself with --pool=solo), before it takes
    any: the first turn does not wait for the model, and a queued turn shows its position
    meanwhile. A failure is logged; each turn then fails with the reason until it is fixed."""
    try:
        engine()
    except Exception:
        log.exception("the model could not be loaded")


@worker_ready.connect
def fail_turns_of_dead_workers(**kwargs):
    frames = turns.fail_stale_turns()
    for frame in frames:
        live.publisher().publish(frame["turn_id"], frame)
    if frames:
        live.publisher().drain()
        log.warning("marked %d turn(s) of stopped workers failed", len(frames))


# ---- the conversation a turn continues ------------------------------------------------------

def as_msg(message: Message) -> harmony.Msg:
    return harmony.Msg(role=message.role, text=message.text, channel=message.channel,
                       recipient=message.recipient, content_type=message.content_type,
                       author=message.author)


def history(turn: Turn) -> list[harmony.Msg]:
    """Earlier turns of the conversation that ended with an answer (or were stopped), each as
    its user message and stored messages; of a turn regenerated several times only the latest
    version counts, and a regeneration continues the history its original had."""
    before = turn.regenerated_from_id or turn.id
    earlier = list(turn.conversation.turns.filter(id__lt=before).order_by("id"))
    parent = {t.id: t.regenerated_from_id for t in earlier}

    def root(turn_id):
        while parent.get(turn_id):
            turn_id = parent[turn_id]
        return turn_id

    latest = {}
    for t in earlier:
        if t.status in HISTORY_STATUSES:
            latest[root(t.id)] = t
    kept = sorted(latest.values(), key=lambda t: t.id)
    stored = Message.objects.filter(turn__in=kept).order_by("turn_id", "index")
    by_turn = {}
    for m in stored:
        by_turn.setdefault(m.turn_id, []).append(as_msg(m))
    msgs = []
    for t in kept:
        msgs.append(harmony.Msg(role="user", text=t.user_text))
        msgs += by_turn.get(t.id, [])
    return msgs


# ---- what run_turn emits ---------------------------------------------------------------------

class TurnSink:
    """The `emit` of one run: publishes frames through the coalescer and keeps the messages,
    storing each one as it ends. The frames that end a run (turn.done, tool.awaiting) are held
    back until the turn's row is written, so a browser that reacts to them (reloads, answers
    the call) finds the database up to date."""

    ENDING = ("turn.done", "tool.awaiting")

    def __init__(self, turn: Turn):
        self.turn = turn
        publisher = live.publisher()
        self.coalescer = events.Coalescer(lambda frame: publisher.publish(turn.id, frame))
        self.open: dict[int, Message] = {}
        self.stored: dict[int, Message] = {}
        self.held: list[dict] = []
        self.answer: tuple[str, float | None] | None = None  # (call_id, ms) of the next tool message

    def __call__(self, frame: dict):
        kind = frame["type"]
        if kind == "message.start":
            answer = None
            if frame["role"] == "tool":
                answer, self.answer = self.answer, None
            self.open[frame["index"]] = Message(
                turn=self.turn, index=frame["index"], role=frame["role"],
                author=frame.get("author"), channel=frame["channel"],
                recipient=frame["recipient"], content_type=frame["content_type"], text="",
                call_id=answer[0] if answer else None, tool_ms=answer[1] if answer else None)
        elif kind == "message.delta":
            self.open[frame["index"]].text += frame["text"]
        elif kind == "message.end":
            message = self.open.pop(frame["index"])
            message.tokens = frame["tokens"]
            message.save()
            self.stored[message.index] = message
        elif kind == "tool.call":
            Message.objects.filter(turn=self.turn, index=frame["index"]).update(
                call_id=frame["call_id"])
        elif kind == "tool.result":
            self.answer = (frame["call_id"], frame["ms"])
        if kind in self.ENDING:
            self.held.append(frame)
        else:
            self.coalescer(frame)

    def store_rest(self, parsed_messages):
        """Messages cut off before their end (a crash) are kept with what they had; token ids,
        known only to the parser, are added to every stored message."""
        for message in self.open.values():
            message.save()
            self.stored[message.index] = message
        self.open.clear()
        updated = []
        for parsed in parsed_messages:
            message = self.stored.get(parsed.index)
            if message is not None:
                message.token_ids = list(parsed.token_ids)
                message.tokens = message.tokens or len(parsed.token_ids)
                updated.append(message)
        Message.objects.bulk_update(updated, ["token_ids", "tokens"])

    def release(self):
        self.coalescer.flush()
        publisher = live.publisher()
        for frame in self.held:
            publisher.publish(self.turn.id, frame)
        publisher.drain()


class CancelFlag:
    """`should_cancel` for run_turn: asks Redis at most every CANCEL_POLL_S, and once the
    flag is seen, keeps answering yes."""

    def __init__(self, turn_id: int):
        self.turn_id, self.checked, self.seen = turn_id, 0.0, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.seen and now - self.checked >= CANCEL_POLL_S:
            self.checked = now
            try:
                self.seen = live.cancel_requested(self.turn_id)
            except Exception as exc:  # Redis away: go on generating rather than fail the turn
                log.warning("cancel flag of turn %s unreadable: %s", self.turn_id, exc)
        return self.seen


# ---- the tasks --------------------------------------------------------------------------------

def claim(turn_id: int, hostname: str, resume: bool) -> Turn | None:
    """Queued → running, atomically: a redelivered or duplicate task gets None."""
    queued = Turn.objects.filter(id=turn_id, status=Turn.Status.QUEUED)
    queued = (queued.filter(pending_call__has_key="output") if resume
              else queued.filter(pending_call__isnull=True))
    if not queued.update(status=Turn.Status.RUNNING, worker=hostname):
        return None
    turn = Turn.objects.select_related("conversation").get(id=turn_id)
    if turn.started_at is None:
        turn.started_at = timezone.now()
        turn.save(update_fields=["started_at"])
    return turn


def execute(turn_id: int, hostname: str, resume: bool) -> None:
    live.mark_alive(turn_id)  # before the claim: a sweep never sees it running without a beat
    turn = claim(turn_id, hostname, resume)
    if turn is None:
        log.info("turn %s is not waiting for this task; skipped (cancelled, or already run)", turn_id)
        return
    with live.Heartbeat(turn_id):
        try:
            run(turn, hostname, resume)
        finally:
            live.clear_cancel(turn_id)


def run(turn: Turn, hostname: str, resume: bool) -> None:
    queue_ms = turns.elapsed_ms(turn.queued_at)
    pending = turn.pending_call if resume else None
    sink = TurnSink(turn)
    result = None
    try:
        model = engine()
        turn.model, turn.device = model.model_name, model.device
        turn.save(update_fields=["model", "device"])
        messages = history(turn) + [harmony.Msg(role="user", text=turn.user_text)]
        first_index = 0
        if pending is not None:  # the turn's own messages so far, then the client's answer
            own = list(turn.messages.order_by("index"))
            messages += [as_msg(m) for m in own]
            first_index = own[-1].index + 1 if own else 0
            sink.answer = (pending["call_id"], None)
            answer = tool_message(sink, turn.id, first_index, pending["name"], pending["output"])
            messages.append(answer.to_msg())
            first_index += 1
        date = turn.conversation.created_at.date().isoformat()
        result = run_turn(model, messages, harmony_settings(turn.effort, turn.settings, date), sink,
                          turn_id=turn.id, should_cancel=CancelFlag(turn.id), queue_ms=queue_ms,
                          first_index=first_index, carried_metrics=turn.metrics if resume else None,
                          worker=hostname)
        parsed = result.messages + ([answer] if pending is not None else [])
        status, metrics, error = result.status, result.metrics, result.error
        pending_call = (None if result.pending_call is None else
                        {"call_id": result.pending_call.call_id, "name": result.pending_call.name,
                         "arguments": result.pending_call.arguments})
    except Exception as exc:  # a bug or a lost database: the turn fails with the reason
        log.exception("turn %s failed", turn.id)
        code = "model_unavailable" if _engine is None else "internal_error"
        parsed, status, pending_call = [], Turn.Status.FAILED.value, None
        metrics = turns.base_metrics(turn, queue_ms=queue_ms)
        error = events.error_info(code, f"{type(exc).__name__}: {exc}")
        sink.held = [events.turn_done(turn.id, status, metrics, error)]
    with transaction.atomic():
        sink.store_rest(parsed)
        turn.status, turn.metrics, turn.error, turn.pending_call = status, metrics, error, pending_call
        turn.finished_at = timezone.now() if status in Turn.FINISHED else None
        turn.save(update_fields=["status", "metrics", "error", "pending_call", "finished_at"])
    sink.release()


@shared_task(name=turns.RUN_TASK, bind=True)
def run_turn_task(self, turn_id: int) -> None:
    execute(turn_id, self.request.hostname or "worker", resume=False)


@shared_task(name=turns.RESUME_TASK, bind=True)
def resume_turn_task(self, turn_id: int) -> None:
    """A turn paused on a function call continues with the client's tool.output."""
    execute(turn_id, self.request.hostname or "worker", resume=True)
