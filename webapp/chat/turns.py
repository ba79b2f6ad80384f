"""A turn's life as database transitions, shared by the consumer and the worker task.

queued ──worker claims──▶ running ──▶ completed | cancelled | failed | length
   │                         └──────▶ awaiting ──tool.output──▶ queued (resume)
   └── cancelled (turn.cancel before a worker took it; also from awaiting)

Every transition is one conditional UPDATE (or a locked read-modify-write), so two processes
racing for the same turn cannot both win: a redelivered task finds the turn no longer queued
and leaves it alone.
"""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from inference import events

from inference.harmony import EFFORTS

from . import conformance
from .frames import CompareRequest, FrameError, TurnRequest
from .models import Comparison, Conversation, Turn

RUN_TASK, RESUME_TASK = "chat.run_turn", "chat.resume_turn"
# A turn.create refused because the user's turns fill the queue says to retry after this long:
# a hint, since when one of them starts depends on the workers.
QUEUE_FULL_RETRY_S = 5
# A task for a turn of a user who already runs CHAT_MAX_RUNNING_TURNS turns is sent again, to be
# tried after this long; the turn stays queued meanwhile.
RUNNING_LIMIT_RETRY_S = 1


class Deferred(Exception):
    """The turn's user already runs as many turns as they may: it stays queued, for later."""


def not_found(turn_id: int) -> FrameError:
    # the same answer for "does not exist" and "is someone else's": ids reveal nothing
    return FrameError("not_found", f"no turn {turn_id} of yours")


def owned_turn(user, turn_id: int) -> Turn:
    try:
        return Turn.objects.select_related("conversation").get(id=turn_id, conversation__user=user)
    except Turn.DoesNotExist:
        raise not_found(turn_id) from None


def elapsed_ms(since) -> float:
    return round((timezone.now() - since).total_seconds() * 1000, 1)


def enqueue(turn: Turn, task_name: str, countdown: float | None = None) -> dict | None:
    """Hand the turn to the `gpu` queue (to be run no sooner than `countdown` s from now). If
    the broker cannot take it, the turn fails at once (with a stored reason) rather than
    waiting forever as `queued`: its turn.done is returned."""
    from webapp.celery import app

    try:
        app.send_task(task_name, args=[turn.id], task_id=turn.celery_task_id, queue="gpu",
                      countdown=countdown)
        return None
    except Exception as exc:  # kombu raises several kinds; all mean "not queued"
        error = events.error_info("queue_unavailable", f"the turn could not be queued: {exc}")
        metrics = turn.protocol_metrics()
        lint = conformance.lint_ended(turn, Turn.Status.FAILED, error)  # a resumed turn's messages
        Turn.objects.filter(id=turn.id).update(status=Turn.Status.FAILED, error=error,
                                               metrics=metrics, finished_at=timezone.now(), lint=lint)
        return events.turn_done(turn.id, Turn.Status.FAILED.value, metrics, error, lint)


def lock_user(user_id: int) -> None:
    """Serialise this transaction with the others that count the user's turns (PostgreSQL
    locks the user's row; SQLite's immediate transactions are serialised already)."""
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))


def user_turns(user_id: int, status: str) -> int:
    return Turn.objects.filter(conversation__user_id=user_id, status=status).count()


def check_queue_room(user, adding: int, max_queued: int | None) -> None:
    """Within the caller's transaction: refuse (too_many_turns) `adding` more queued turns when
    the user would then have over `max_queued` waiting for a worker."""
    if max_queued is None:
        return
    lock_user(user.pk)
    waiting = user_turns(user.pk, Turn.Status.QUEUED)
    if waiting + adding > max_queued:
        message = (f"{waiting} of your turns are waiting for a worker, the most you may have "
                   f"queued; send this when one of them has started") if adding == 1 else (
                   f"{waiting} of your turns are waiting for a worker and this adds {adding}, "
                   f"over the {max_queued} you may have queued; send it when enough of them "
                   f"have started")
        raise FrameError("too_many_turns", message, retry_after_s=QUEUE_FULL_RETRY_S)


def conversation_for(user, conversation_id: int | None, text: str) -> Conversation:
    """The user's conversation `conversation_id`, or a new one titled after `text`."""
    if conversation_id is None:
        return Conversation.objects.create(user=user, title=Conversation.title_for(text))
    conversation = Conversation.objects.filter(id=conversation_id, user=user).first()
    if conversation is None:
        raise FrameError("not_found", f"no conversation {conversation_id} of yours")
    return conversation


def create_turn(user, request: TurnRequest, max_queued: int | None = None) -> tuple[Turn, int]:
    """Store a new queued turn (and its conversation if new); return it with its queue
    position. `enqueue` hands it to a worker. A user who already has `max_queued` turns
    waiting for a worker is refused (too_many_turns)."""
    with transaction.atomic():
        check_queue_room(user, 1, max_queued)
        conversation = conversation_for(user, request.conversation_id, request.text)
        regenerated_from = None
        if request.regenerated_from is not None:
            regenerated_from = conversation.turns.filter(id=request.regenerated_from).first()
            if regenerated_from is None:
                raise FrameError("not_found", f"no turn {request.regenerated_from} in this conversation")
            if regenerated_from.comparison_id is not None:  # it would enter the history
                raise FrameError("invalid", f"turn {request.regenerated_from} belongs to an "
                                            f"effort comparison, which cannot be regenerated")
        turn = Turn.objects.create(
            conversation=conversation, request_id=request.request_id, user_text=request.text,
            effort=request.effort, settings=request.settings, regenerated_from=regenerated_from,
            celery_task_id=str(uuid.uuid4()),
        )
        Conversation.objects.filter(id=conversation.id).update(updated_at=turn.queued_at)
    return turn, turn.queue_position()


def create_comparison(user, request: CompareRequest,
                      max_queued: int | None = None) -> list[tuple[Turn, int]]:
    """Store a comparison and one queued turn per effort (low first), all in one transaction:
    the same text and settings as `request`, or as its earlier turn `turn_id` (whose history
    the turns then share). Returns each turn with its queue position; `enqueue` hands them on."""
    with transaction.atomic():
        check_queue_room(user, len(EFFORTS), max_queued)
        source = None
        if request.turn_id is not None:
            source = owned_turn(user, request.turn_id)
            conversation, text, settings = source.conversation, source.user_text, source.settings
        else:
            conversation = conversation_for(user, request.conversation_id, request.text)
            text, settings = request.text, request.settings
        comparison = Comparison.objects.create(conversation=conversation, source_turn=source)
        created = [Turn.objects.create(
            conversation=conversation, comparison=comparison, request_id=request.request_id,
            user_text=text, effort=effort, settings=settings, celery_task_id=str(uuid.uuid4()),
        ) for effort in EFFORTS]
        Conversation.objects.filter(id=conversation.id).update(updated_at=created[-1].queued_at)
    return [(turn, turn.queue_position()) for turn in created]


def claim(turn_id: int, hostname: str, resume: bool, max_running: int | None = None) -> Turn | None:
    """Queued → running, atomically: a redelivered or duplicate task gets None. A resume
    task claims only a turn whose tool output has arrived, a first run only one without a
    pending call. A turn whose user already runs `max_running` turns is not claimed: Deferred
    (the count and the claim are one transaction, serialised per user)."""
    queued = Turn.objects.filter(id=turn_id, status=Turn.Status.QUEUED)
    queued = (queued.filter(pending_call__has_key="output") if resume
              else queued.filter(pending_call__isnull=True))
    with transaction.atomic():
        if max_running is not None:
            owner = queued.values_list("conversation__user_id", flat=True).first()
            if owner is None:
                return None
            lock_user(owner)
            if user_turns(owner, Turn.Status.RUNNING) >= max_running:
                raise Deferred(turn_id)
        if not queued.update(status=Turn.Status.RUNNING, worker=hostname):
            return None
    turn = Turn.objects.select_related("conversation").get(id=turn_id)
    if turn.started_at is None:
        turn.started_at = timezone.now()
        turn.save(update_fields=["started_at"])
    return turn


def defer(turn_id: int, task_name: str, task_id: str | None = None) -> dict | None:
    """Send the turn's task again, to run in RUNNING_LIMIT_RETRY_S, under a new task id; the
    turn stays queued. Only the task the turn is waiting for defers it (`task_id`, compared
    and replaced in one UPDATE): a duplicate delivery (redelivery, a sweep's re-send) is dropped
    rather than multiplying. Returns its turn.done if the broker refused (the turn then failed)."""
    new_id = str(uuid.uuid4())
    waiting = Turn.objects.filter(id=turn_id, status=Turn.Status.QUEUED)
    if task_id is not None:
        waiting = waiting.filter(celery_task_id=task_id)
    if not waiting.update(celery_task_id=new_id):
        return None
    return enqueue(Turn.objects.get(id=turn_id), task_name, countdown=RUNNING_LIMIT_RETRY_S)


def cancel_idle(user, turn_id: int) -> tuple[Turn, dict | None]:
    """Cancel a turn no worker holds (queued or awaiting) and return its turn.done; for a
    running turn return None: the worker stops at the flag and sends turn.done itself."""
    with transaction.atomic():
        turn = owned_turn(user, turn_id)
        turn = Turn.objects.select_for_update().get(id=turn.id)
        if turn.finished:
            raise FrameError("bad_state", f"turn {turn_id} has already ended ({turn.status})")
        if turn.status not in (Turn.Status.QUEUED, Turn.Status.AWAITING):
            return turn, None
        extra = {"queue_ms": elapsed_ms(turn.queued_at)} if turn.started_at is None else {}
        turn.status = Turn.Status.CANCELLED
        turn.metrics = turn.protocol_metrics(**extra)
        turn.finished_at = timezone.now()
        turn.lint = conformance.lint_ended(turn, turn.status, turn.error)  # an awaiting turn's messages
        turn.save(update_fields=["status", "metrics", "finished_at", "lint"])
    return turn, events.turn_done(turn.id, turn.status, turn.metrics, turn.error, turn.lint)


def accept_tool_output(user, turn_id: int, call_id: str, output: str) -> tuple[Turn, int]:
    """Store the client's answer to the pending call and mark the turn queued again; the
    caller then enqueues RESUME_TASK."""
    with transaction.atomic():
        turn = owned_turn(user, turn_id)
        turn = Turn.objects.select_for_update().get(id=turn.id)
        pending = turn.pending_call or {}
        if turn.status != Turn.Status.AWAITING:
            raise FrameError("bad_state", f"turn {turn_id} is {turn.status}, not awaiting a tool output")
        if pending.get("call_id") != call_id:
            raise FrameError("bad_state", f"turn {turn_id} awaits call {pending.get('call_id')!r}, "
                                          f"not {call_id!r}")
        turn.pending_call = {**pending, "output": output}
        turn.status = Turn.Status.QUEUED
        turn.queued_at = timezone.now()
        turn.celery_task_id = str(uuid.uuid4())
        turn.save(update_fields=["pending_call", "status", "queued_at", "celery_task_id"])
    return turn, turn.queue_position()


def finish(turn: Turn, hostname: str, status: str, metrics, error, pending_call, lint=None) -> bool:
    """Running → its end (completed, cancelled, failed, length, or awaiting a tool output),
    written by the worker that runs it, with its conformance `lint`, as one compare-and-set:
    only while the turn is still running on `hostname`. False when someone else ended it first
    (a sweep that found its heartbeat expired): the turn then keeps that end, and this worker
    publishes no turn.done."""
    finished_at = timezone.now() if status in Turn.FINISHED else None
    won = Turn.objects.filter(id=turn.id, status=Turn.Status.RUNNING, worker=hostname).update(
        status=status, metrics=metrics, error=error, pending_call=pending_call,
        finished_at=finished_at, lint=lint)
    if won:
        turn.status, turn.metrics, turn.error = status, metrics, error
        turn.pending_call, turn.finished_at, turn.lint = pending_call, finished_at, lint
    return bool(won)


def fail_stale_turns(turn_ids=None) -> list[dict]:
    """Mark failed the running turns whose worker stopped sending heartbeats (it died, or was
    killed mid-turn), so that no turn stays `running` forever; returns their turn.done frames."""
    from . import live

    running = Turn.objects.filter(status=Turn.Status.RUNNING)
    if turn_ids is not None:
        running = running.filter(id__in=list(turn_ids))
    candidates = list(running.values_list("id", flat=True))
    dead = set(candidates) - live.alive_turn_ids(candidates)
    frames = []
    for turn_id in sorted(dead):
        turn = Turn.objects.filter(id=turn_id, status=Turn.Status.RUNNING).first()
        if turn is None:
            continue
        error = events.error_info(
            "worker_lost",
            f"the worker running this turn ({turn.worker or 'unknown'}) stopped without "
            f"finishing it; what it had generated is kept",
        )
        metrics = turn.protocol_metrics()
        lint = conformance.lint_ended(turn, Turn.Status.FAILED, error)
        # the same compare-and-set as the worker's own end: whoever writes first wins, and a
        # worker that comes back to life (or a second sweeper) finds the turn no longer its
        if not Turn.objects.filter(id=turn_id, status=Turn.Status.RUNNING,
                                   worker=turn.worker).update(
                status=Turn.Status.FAILED, error=error, metrics=metrics,
                finished_at=timezone.now(), lint=lint):
            continue
        frames.append(events.turn_done(turn_id, Turn.Status.FAILED.value, metrics, error, lint))
    return frames

