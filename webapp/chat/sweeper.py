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
"""

from __future__ import annotations

import logging
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections, connection

from . import live, turns

log = logging.getLogger(__name__)


def sweep_period() -> float:
    return max(1.0, min(5.0, settings.CHAT_STALE_TURN_SECONDS / 6))


def lock_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:sweep-lock"


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
        for frame in frames:
            live.publisher().publish(frame["turn_id"], frame)
        if frames:
            live.publisher().drain()
            log.warning("%s: failed %d turn(s) whose worker stopped: %s", self.name, len(frames),
                        [f["turn_id"] for f in frames])
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
