"""The worker process itself: its engine, loaded and warmed up once before it takes any turn,
the turns it is running, and what it tells the site about itself.

`celery -A webapp worker` imports `tasks`, which imports this module: the signal handlers
below are connected before the worker starts. The pool is threads (settings.py): one thread
per turn slot, all sharing the one engine (`GPTOSS_TURN_SLOTS`: one for transformers, up to
`GPTOSS_MAX_TURNS` for vLLM, which batches them).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from celery.signals import worker_init, worker_ready, worker_shutdown
from django.conf import settings

from inference import harmony
from inference.tools import bounded

from . import live, sweeper, turns

log = logging.getLogger(__name__)

_engine = None
_engine_lock = threading.Lock()
_running = 0
_running_lock = threading.Lock()
_status: live.WorkerStatus | None = None
_sweeper: sweeper.Sweeper | None = None


def engine_options() -> dict:
    """What the configured backend takes beyond the model and the device (settings.py checks
    that the vLLM-only variables are not set for transformers)."""
    if settings.GPTOSS_ENGINE != "vllm":
        return {}
    return {
        "tensor_parallel_size": settings.GPTOSS_TENSOR_PARALLEL_SIZE,
        "pipeline_parallel_size": settings.GPTOSS_PIPELINE_PARALLEL_SIZE,
        "distributed_executor_backend": settings.GPTOSS_DISTRIBUTED_BACKEND or None,
        "engine_args": {"max_num_seqs": settings.GPTOSS_MAX_TURNS, **settings.GPTOSS_VLLM_ARGS},
    }


def engine():
    """The worker's model, loaded on first use (GPTOSS_ENGINE, GPTOSS_MODEL, GPTOSS_DEVICE)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from inference.engine import load

            started = time.perf_counter()
            _engine = load(settings.GPTOSS_ENGINE, settings.GPTOSS_MODEL or None,
                           settings.GPTOSS_DEVICE or None, **engine_options())
            log.info("loaded %s on %s with %s in %.1f s", _engine.model_name, _engine.device,
                     settings.GPTOSS_ENGINE, time.perf_counter() - started)
    return _engine


def engine_loaded() -> bool:
    return _engine is not None


def warm_up(model) -> None:
    """Everything a first turn would otherwise pay for: the harmony encoding (≈ 0.2 s on first
    use), the engine's first forward pass and vLLM's first scheduling, the first child process
    of the built-in tools (≈ 0.1 s)."""
    bounded.pool.warm()
    prompt = harmony.render_prompt([harmony.Msg(role="user", text="hi")], harmony.TurnSettings())
    generation = model.generate(prompt, max_new_tokens=2)
    for _ in generation:
        pass


@contextlib.contextmanager
def turn_slot():
    """Counts the turns this process runs; yields how many run now, this one included."""
    global _running
    with _running_lock:
        _running += 1
        now = _running
    try:
        yield now
    finally:
        with _running_lock:
            _running -= 1


@worker_init.connect
def load_model_at_start(sender=None, **kwargs):
    """Before the worker consumes the queue: the first turn waits for nothing but the model,
    and meanwhile the site can say that a worker is loading. A failure is logged; each turn
    then fails with the reason until it is fixed."""
    global _status
    hostname = getattr(sender, "hostname", None) or "worker"
    _status = live.WorkerStatus(hostname, engine=settings.GPTOSS_ENGINE,
                                slots=settings.GPTOSS_TURN_SLOTS)
    _status.start()
    started = time.perf_counter()
    try:
        model = engine()
        warm_up(model)
    except Exception as exc:
        log.exception("the model could not be loaded")
        _status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        return
    _status.update(state="ready", model=model.model_name, device=model.device)
    log.info("warmed up in %.1f s", time.perf_counter() - started)


@worker_shutdown.connect
def say_goodbye(**kwargs):
    if _sweeper is not None:
        _sweeper.stop()
    if _status is not None:
        _status.stop()
    if _engine is not None and hasattr(_engine, "close"):
        _engine.close()


@worker_ready.connect
def start_sweeper(sender=None, **kwargs):
    """This process's share of sweeping (webapp/chat/sweeper.py): workers are what keeps
    running; the site sweeps too, for when none is alive."""
    global _sweeper
    if settings.CHAT_SWEEPER and _sweeper is None:
        _sweeper = sweeper.Sweeper(getattr(sender, "hostname", None) or "worker").start()


@worker_ready.connect
def fail_turns_of_dead_workers(**kwargs):
    frames = turns.fail_stale_turns()
    live.publish_now(frames)
    if frames:
        log.warning("marked %d turn(s) of stopped workers failed", len(frames))
