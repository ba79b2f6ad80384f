"""The Celery tasks of a turn: a thin adapter between Celery, the database and inference.turn.

The turn loop itself (render, generate, parse, tools, metrics) is `inference.turn.run_turn`;
a task claims the turn (`turns.claim`), builds the conversation from stored rows
(`Turn.history`), hands run_turn the worker's model (`worker.engine`), a `TurnSink` that
publishes the frames and stores the messages as they end and a `live.CancelFlag`, and stores
the turn when it stops. Several turns run at once in the worker's threads when the engine
batches them (vLLM); each task is still one turn.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from inference import events, harmony
from inference.turn import run_turn, tool_message

from . import conformance, live, turns, worker
from .models import Turn
from .sink import TurnSink, storable

log = logging.getLogger(__name__)


def execute(turn_id: int, hostname: str, resume: bool, task_id: str | None = None) -> None:
    live.mark_alive(turn_id)  # before the claim: a sweep never sees it running without a beat
    try:
        turn = turns.claim(turn_id, hostname, resume, settings.CHAT_MAX_RUNNING_TURNS)
    except turns.Deferred:  # its user runs enough turns: other users' turns go first
        live.clear_alive(turn_id)
        failed = turns.defer(turn_id, turns.RESUME_TASK if resume else turns.RUN_TASK, task_id)
        if failed is not None:
            live.publisher().publish(turn_id, failed)
            live.publisher().drain()
        log.info("turn %s deferred: its user runs %s turns already", turn_id,
                 settings.CHAT_MAX_RUNNING_TURNS)
        return
    if turn is None:
        log.info("turn %s is not waiting for this task; skipped (cancelled, or already run)", turn_id)
        return
    with live.Heartbeat(turn_id), worker.turn_slot() as running:
        try:
            run(turn, hostname, resume, running)
        finally:
            live.clear_cancel(turn_id)


def run(turn: Turn, hostname: str, resume: bool, running: int = 1) -> None:
    queue_ms = turns.elapsed_ms(turn.queued_at)
    pending = turn.pending_call if resume else None
    sink = TurnSink(turn)
    result = None
    try:
        model = worker.engine()
        turn.model, turn.device = model.model_name, model.device
        turn.save(update_fields=["model", "device"])
        messages = turn.history() + [harmony.Msg(role="user", text=turn.user_text)]
        first_index = 0
        if pending is not None:  # the turn's own messages so far, then the client's answer
            own = list(turn.messages.order_by("index"))
            messages += [m.as_msg() for m in own]
            first_index = own[-1].index + 1 if own else 0
            sink.answer = (pending["call_id"], None)
            answer = tool_message(sink, turn.id, first_index, pending["name"], pending["output"])
            messages.append(answer.to_msg())
            first_index += 1
        result = run_turn(model, messages, turn.rendered_settings(), sink,
                          turn_id=turn.id, should_cancel=live.CancelFlag(turn.id), queue_ms=queue_ms,
                          first_index=first_index, carried_metrics=turn.metrics if resume else None,
                          worker=hostname, running_turns=running)
        parsed = result.messages + ([answer] if pending is not None else [])
        status, metrics, error = result.status, result.metrics, result.error
        sink.add_publish_time(metrics, turn.metrics if resume else None)
        pending_call = (None if result.pending_call is None else
                        {"call_id": result.pending_call.call_id, "name": result.pending_call.name,
                         "arguments": result.pending_call.arguments})
    except Exception as exc:  # a bug or a lost database: the turn fails with the reason
        log.exception("turn %s failed", turn.id)
        code = "internal_error" if worker.engine_loaded() else "model_unavailable"
        parsed, status, pending_call = [], Turn.Status.FAILED.value, None
        metrics = turn.protocol_metrics(queue_ms=queue_ms)
        error = events.error_info(code, f"{type(exc).__name__}: {exc}")
        sink.held = [events.turn_done(turn.id, status, metrics, error)]
    metrics, error, pending_call = storable(metrics), storable(error), storable(pending_call)
    with transaction.atomic():
        sink.store_rest(parsed)
        lint = conformance.lint_ended(turn, status, error)
        won = turns.finish(turn, hostname, status, metrics, error, pending_call, lint)
    if won:
        sink.add_lint(lint)
        sink.release()
    else:  # a sweep ended the turn first (worker_lost): its turn.done is the only one
        sink.release(ending=False)
        log.warning("turn %s was ended by a sweep while this worker ran it; its end (%s) is "
                    "not stored", turn.id, status)


@shared_task(name=turns.RUN_TASK, bind=True)
def run_turn_task(self, turn_id: int) -> None:
    execute(turn_id, self.request.hostname or "worker", resume=False, task_id=self.request.id)


@shared_task(name=turns.RESUME_TASK, bind=True)
def resume_turn_task(self, turn_id: int) -> None:
    """A turn paused on a function call continues with the client's tool.output."""
    execute(turn_id, self.request.hostname or "worker", resume=True, task_id=self.request.id)
