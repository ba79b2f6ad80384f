"""The server-side sweeper: no running turn outlives its worker.

A worker keeps a lease on each turn it runs (live.Heartbeat: a Redis key with a time to live of
CHAT_STALE_TURN_SECONDS, refreshed six times as often). A `Sweeper` thread, in every worker
process and in every Daphne process (webapp/asgi.py), wakes every `sweep_period()` seconds and,
when it wins the sweep lock (a Redis key set with NX that expires after one period, never
released: whichever process takes it sweeps, and the others skip this period), fails the running
turns whose lease expired (`turns.fail_stale_turns`, a compare-and-set) and publishes their
turn.done to the frame log and the turn's group, so every socket following them is told. A turn
whose worker was SIGKILLed is so failed within CHAT_STALE_TURN_SECONDS + one period (at most
5 s) of its last heartbeat, whether or not any worker is alive, and whether or not a client
re-subscribes (which also sweeps the turn it asks for, at once).

The same sweep finds QUEUED turns whose task message is gone (`requeue_lost_turns`): queued for
longer than CHAT_LOST_TURN_SECONDS (default 2 × CHAT_STALE_TURN_SECONDS), and whose Celery task
id is neither in a broker queue (kombu's Redis transport: the `gpu` list, and its priority
lists) nor reserved by a worker (the transport's `unacked` hash), as after a Redis restart
without persistence. Each is sent again with the same task id (a duplicate is harmless: only
one task claims the turn), or failed (`queue_unavailable`, with its turn.done) if the broker
refuses it: no queued turn is left waiting for a message that no longer exists.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from . import live, turns
from .models import Turn

log = logging.getLogger(__name__)


def sweep_period() -> float:
    return max(1.0, min(5.0, settings.CHAT_STALE_TURN_SECONDS / 6))


def lock_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:sweep-lock"


def lost_turn_seconds() -> float:
    return getattr(settings, "CHAT_LOST_TURN_SECONDS", None) or 2 * settings.CHAT_STALE_TURN_SECONDS


def broker_prefix() -> str:
    """The prefix of the Celery app's keys in Redis (the broker transport's global_keyprefix)."""
    from webapp.celery import app

    return (app.conf.broker_transport_options or {}).get("global_keyprefix", "")


def _task_id(payload) -> str | None:
    if isinstance(payload, (bytes, str)):
        payload = json.loads(payload)
    headers = payload.get("headers") or {}
    return headers.get("id") or (payload.get("properties") or {}).get("correlation_id")


def broker_task_ids(client=None, queue: str = "gpu") -> set[str]:
    """The ids of the tasks the broker holds: waiting in `queue` (and its priority lists,
    kombu names them `queue` + "\\x06\\x16" + priority) or delivered to a worker and not yet
    acknowledged (kombu's `unacked` hash: [message, exchange, routing key] per delivery tag)."""
    client = client or live.sync_client()
    prefix = broker_prefix()
    ids: set[str] = set()
    names = [f"{prefix}{queue}".encode()]
    names += [n for n in client.scan_iter(match=f"{prefix}{queue}\x06\x16*") if n not in names]
    for name in names:
        if client.type(name) != b"list":
            continue
        for raw in client.lrange(name, 0, -1):
            try:
                ids.add(_task_id(raw))
            except (ValueError, AttributeError):
                log.warning("unreadable message in broker queue %r", name)
    for raw in client.hvals(f"{prefix}unacked"):
        try:
            ids.add(_task_id(json.loads(raw)[0]))
        except (ValueError, AttributeError, IndexError, TypeError):
            log.warning("unreadable unacked message in the broker")
    ids.discard(None)
    return ids


def requeue_lost_turns(older_than: float | None = None) -> tuple[list[int], list[dict]]:
    """Send again the tasks of the turns queued for over `older_than` seconds (default
    `lost_turn_seconds()`) whose message the broker no longer holds; returns the ids of the
    turns re-sent and the turn.done frames of those the broker refused (failed)."""
    older_than = lost_turn_seconds() if older_than is None else older_than
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    waiting = list(Turn.objects.filter(status=Turn.Status.QUEUED, queued_at__lt=cutoff))
    if not waiting:
        return [], []
    held = broker_task_ids()
    resent, failed = [], []
    for turn in waiting:
        if turn.celery_task_id and turn.celery_task_id in held:
            continue
        if not turn.celery_task_id:  # never sent at all: give it an id the claim can check
            turn.celery_task_id = str(uuid.uuid4())
            Turn.objects.filter(id=turn.id, status=Turn.Status.QUEUED).update(
                celery_task_id=turn.celery_task_id)
        resume = bool(turn.pending_call) and "output" in turn.pending_call
        done = turns.enqueue(turn, turns.RESUME_TASK if resume else turns.RUN_TASK)
        if done is None:
            resent.append(turn.id)
        else:
            failed.append(done)
    return resent, failed


class Sweeper:
    def __init__(self, name: str, period: float | None = None):
        self.name = name
        self.period = period or sweep_period()
        self.token = f"{name}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"sweeper-{name}")

    def sweep_once(self) -> int | None:
        """Fail the running turns whose lease expired and publish their turn.done; how many,
        or None when another process holds this period's sweep lock."""
        if not live.sync_client().set(lock_key(), self.token, nx=True,
                                      px=max(int(self.period * 1000) - 50, 1)):
            return None
        frames = turns.fail_stale_turns()
        resent, refused = requeue_lost_turns()
        if resent:
            log.warning("%s: re-sent the tasks of %d queued turn(s) the broker had lost: %s",
                        self.name, len(resent), resent)
        frames += refused
        live.publish_now(frames)
        if frames:
            log.warning("%s: failed %d turn(s) whose worker stopped or whose task could not be "
                        "sent again: %s", self.name, len(frames), [f["turn_id"] for f in frames])
        return len(frames)

    def _run(self):
        try:
            while not self._stop.wait(self.period):
                try:
                    close_old_connections()  # a connection the database dropped is reopened
                    self.sweep_once()
                except Exception as exc:  # Redis or the database away: try again next period
                    log.warning("%s: sweep failed: %s", self.name, exc)
        finally:
            connection.close()

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


_site_sweeper: Sweeper | None = None
_site_lock = threading.Lock()


def start_in_site() -> None:
    """The Daphne process's sweeper (once per process), so that turns are swept where no
    worker is alive at all."""
    global _site_sweeper
    with _site_lock:
        if _site_sweeper is None and settings.CHAT_SWEEPER:
            _site_sweeper = Sweeper("site").start()
