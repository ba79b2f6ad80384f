"""The worker process itself: its model, loaded once, and what it does when it starts.

`celery -A webapp worker` imports `tasks`, which imports this module: the signal handlers
below are connected before the worker starts taking turns.
"""

from __future__ import annotations

import logging
import threading
import time

from celery.signals import worker_process_init, worker_ready
from django.conf import settings

from . import live, turns

log = logging.getLogger(__name__)

_engine = None
_engine_lock = threading.Lock()


def engine():
    """The worker's model, loaded on first use (GPTOSS_MODEL on GPTOSS_DEVICE)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from inference.engine import Engine

            started = time.perf_counter()
            _engine = Engine.load(settings.GPTOSS_MODEL or None, settings.GPTOSS_DEVICE or None)
            log.info("loaded %s on %s in %.1f s", _engine.model_name, _engine.device,
                     time.perf_counter() - started)
    return _engine


def engine_loaded() -> bool:
    return _engine is not None


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
