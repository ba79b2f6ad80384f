"""The live side of a turn, kept in Redis beside the database row that is its truth.

- Frame log: every frame the worker (or the consumer, for a turn no worker holds) publishes is
  appended to the turn's list and sent to its channel-layer group with `seq`, its position in
  that list. A browser that reconnects or reloads subscribes again and is sent the log, then the
  live frames from where the log ended, so nothing is missed or repeated (delivery on the
  channel layer itself is at-most-once).
- Cancel flag: the consumer sets it; the running task polls it through `CancelFlag`
  (cooperative cancel).
- Heartbeat: a running task refreshes it; a running turn without one has lost its worker.
- Rate window: the times of the turns a user started in the last minute (a sliding window).
- Worker status: each worker process says whether it is loading its model, ready (with its
  engine, model and turn slots) or failed to load, refreshed while it lives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid

import redis
import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

LOG_TTL_S = 24 * 3600
CANCEL_TTL_S = 24 * 3600
CANCEL_POLL_S = 0.1  # how often a running turn asks Redis whether it was cancelled
FRAME_MESSAGE_TYPE = "turn.frame"  # channel-layer message types: the consumer's turn_frame()
FRAMES_MESSAGE_TYPE = "turn.frames"  # and turn_frames() (several frames of one turn, in order)
PUBLISH_BATCH = 256  # frames a worker's publisher sends in one pass at most


def group(turn_id: int) -> str:
    return f"turn.{turn_id}"


def key(turn_id: int, what: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:turn:{turn_id}:{what}"


def rate_key(user_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:{user_id}"


# ---- async side: the consumer ---------------------------------------------------------------

def async_client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(settings.REDIS_URL)


async def log_frames(client, batches: dict[int, list[dict]]) -> dict[int, list[dict]]:
    """Append each turn's frames (in order) to its log, all turns in one round trip; returns
    them with their `seq`."""
    pipe = client.pipeline(transaction=False)
    for turn_id, frames in batches.items():
        pipe.rpush(key(turn_id, "frames"), *[json.dumps(f) for f in frames])
        pipe.expire(key(turn_id, "frames"), LOG_TTL_S)
    lengths = (await pipe.execute())[::2]
    return {turn_id: [{**f, "seq": length - len(frames) + i} for i, f in enumerate(frames)]
            for (turn_id, frames), length in zip(batches.items(), lengths)}


async def send_frames(layer, turn_id: int, frames: list[dict]) -> None:
    """Logged frames of one turn to its group: one channel-layer message whatever their number
    (a group_send is several Redis round trips), `turn.frame` for one, `turn.frames` for more."""
    message = ({"type": FRAME_MESSAGE_TYPE, "frame": frames[0]} if len(frames) == 1
               else {"type": FRAMES_MESSAGE_TYPE, "frames": frames})
    await layer.group_send(group(turn_id), message)


async def append_and_send(client, layer, turn_id: int, frame: dict) -> int:
    """Log `frame` and send it to the turn's group; returns its `seq`."""
    [logged] = (await log_frames(client, {turn_id: [frame]}))[turn_id]
    await send_frames(layer, turn_id, [logged])
    return logged["seq"]


async def logged_frames(client, turn_id: int) -> list[dict]:
    raw = await client.lrange(key(turn_id, "frames"), 0, -1)
    return [{**json.loads(item), "seq": seq} for seq, item in enumerate(raw)]


async def log_length(client, turn_id: int) -> int:
    return await client.llen(key(turn_id, "frames"))


async def request_cancel(client, turn_id: int) -> None:
    await client.set(key(turn_id, "cancel"), 1, ex=CANCEL_TTL_S)


def now() -> float:
    """Wall-clock seconds, the rate window's clock (a test replaces it to move time on)."""
    return time.time()


RATE_WINDOW_S = 60
# One atomic step per turn.create (or turn.compare, which starts several turns): forget the
# starts that left the window, then admit these ARGV[5] turns (their time added, one member
# each) if the limit leaves room for all of them, or say when enough of the oldest have left.
# Sockets of one user on several Daphne processes share the window without a race.
_ADMIT = """
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, count = tonumber(ARGV[3]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local held = redis.call('ZCARD', key)
if held + count <= limit then
  for i = 1, count do redis.call('ZADD', key, now, ARGV[4] .. '#' .. i) end
  redis.call('EXPIRE', key, window + 1)
  return ''
end
local leaving = redis.call('ZRANGE', key, held + count - limit - 1, held + count - limit - 1, 'WITHSCORES')
return tostring(tonumber(leaving[2]) + window - now)
"""


async def admit_turn(client, user_id: int, per_minute: int,
                     count: int = 1) -> tuple[str | None, float]:
    """Count `count` turns (a turn.create's one, a turn.compare's three; at most `per_minute`)
    against the user's sliding minute: (a token that `forget_turn` takes, 0) when they are
    admitted, all of them, (None, seconds until enough of the oldest starts leave the window)
    when the user's starts in the last 60 s leave no room for them."""
    at = now()
    token = f"{at!r}:{uuid.uuid4().hex[:8]}"
    answer = await client.eval(_ADMIT, 1, rate_key(user_id), repr(at), RATE_WINDOW_S,
                               per_minute, token, count)
    answer = answer.decode() if isinstance(answer, bytes) else answer
    if not answer:
        return token, 0.0
    # rounded up to a tenth of a second: a client that waits this long is never early
    return None, max(math.ceil(float(answer) * 10) / 10, 0.1)


async def forget_turn(client, user_id: int, token: str, count: int = 1) -> None:
    """Turns admitted by `admit_turn` that were not started after all (refused, or failed)."""
    await client.zrem(rate_key(user_id), *(f"{token}#{i}" for i in range(1, count + 1)))


# ---- sync side: the worker ------------------------------------------------------------------

_sync_client = None


def sync_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL)
    return _sync_client


def cancel_requested(turn_id: int) -> bool:
    return bool(sync_client().exists(key(turn_id, "cancel")))


def clear_cancel(turn_id: int) -> None:
    sync_client().delete(key(turn_id, "cancel"))


def mark_alive(turn_id: int) -> None:
    sync_client().set(key(turn_id, "alive"), 1, ex=settings.CHAT_STALE_TURN_SECONDS)


def clear_alive(turn_id: int) -> None:
    sync_client().delete(key(turn_id, "alive"))


def alive_turn_ids(turn_ids) -> set[int]:
    turn_ids = list(turn_ids)
    if not turn_ids:
        return set()
    flags = sync_client().mget([key(t, "alive") for t in turn_ids])
    return {t for t, flag in zip(turn_ids, flags) if flag is not None}


WORKER_STATUS_TTL_S = 15


def workers_key() -> str:
    """One hash of every worker's status (field: hostname), so reading them all is one
    command whatever else the keyspace holds; each status carries its own expiry."""
    return f"{settings.REDIS_KEY_PREFIX}:workers"


async def worker_statuses(client) -> list[dict]:
    """The live workers' statuses (loading, ready, failed), sorted by hostname; those not
    refreshed within WORKER_STATUS_TTL_S (their worker died) are left out and removed."""
    raw = await client.hgetall(workers_key())
    statuses, expired = [], []
    for hostname, item in sorted(raw.items()):
        status = json.loads(item)
        if status.get("expires", 0) > time.time():
            statuses.append(status)
        else:
            expired.append(hostname)
    if expired:
        await client.hdel(workers_key(), *expired)
    return statuses


async def worker_summary(client) -> dict:
    """How many workers are ready, loading their model or failed, and the ready ones' slots."""
    statuses = await worker_statuses(client)
    summary = {state: sum(s.get("state") == state for s in statuses)
               for state in ("ready", "loading", "failed")}
    summary["slots"] = sum(s.get("slots", 1) for s in statuses if s.get("state") == "ready")
    return summary


class WorkerStatus:
    """A worker's status key, refreshed by a thread until `stop()`: one that dies stops being
    listed within WORKER_STATUS_TTL_S."""

    def __init__(self, hostname: str, **info):
        self.status = {"hostname": hostname, "state": "loading", **info}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="worker-status")

    def _write(self):
        self.status["expires"] = time.time() + WORKER_STATUS_TTL_S
        try:
            sync_client().hset(workers_key(), self.status["hostname"], json.dumps(self.status))
        except redis.RedisError as exc:
            log.warning("worker status not written: %s", exc)

    def _run(self):
        while not self._stop.wait(WORKER_STATUS_TTL_S / 3):
            self._write()

    def start(self):
        self._write()
        self._thread.start()

    def update(self, **info):
        self.status.update(info)
        self._write()

    def stop(self):
        self._stop.set()
        try:
            sync_client().hdel(workers_key(), self.status["hostname"])
        except redis.RedisError:
            pass


class Heartbeat:
    """While a task runs a turn, a thread marks it alive every few seconds, whatever the
    decoding loop is doing (a long prefill included)."""

    def __init__(self, turn_id: int):
        self.turn_id = turn_id
        self.period = max(1.0, settings.CHAT_STALE_TURN_SECONDS / 6)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{turn_id}")

    def _run(self):
        while not self._stop.wait(self.period):
            try:
                mark_alive(self.turn_id)
            except redis.RedisError as exc:  # the sweep will see a missed beat; keep trying
                log.warning("heartbeat of turn %s failed: %s", self.turn_id, exc)

    def __enter__(self):
        mark_alive(self.turn_id)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        clear_alive(self.turn_id)


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
                self.seen = cancel_requested(self.turn_id)
            except Exception as exc:  # Redis away: go on generating rather than fail the turn
                log.warning("cancel flag of turn %s unreadable: %s", self.turn_id, exc)
        return self.seen


class Publisher:
    """Publishes frames from a worker's synchronous tasks, in order, without blocking them.

    One event loop, in one thread, for the worker process's whole life: building a loop and
    Redis connections per message (what async_to_sync does outside a loop, channels_redis #266)
    would cost more than decoding a token. Each pass sends everything queued since the last one:
    the frames of all turns go to their logs in one Redis round trip, then each turn's frames to
    its group as one channel-layer message, the turns concurrently. Alone, a frame goes out at
    once as before; with many turns streaming, a pass costs a few round trips however many
    frames it carries, where one group_send per frame (six round trips each) fell behind."""

    def __init__(self):
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="frame-publisher").start()
        self._ready.wait()

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue()
        self._ready.set()
        self._loop.run_until_complete(self._pump())

    async def _pump(self):
        layer = get_channel_layer()
        client = async_client()
        while True:
            items = [await self._queue.get()]
            while len(items) < PUBLISH_BATCH and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._send(client, layer, [i for i in items if i[1] is not None])
            finally:
                for _, frame, reached in items:
                    if frame is None:  # a drain's marker: everything queued before it is out
                        reached()

    @staticmethod
    async def _send(client, layer, items) -> None:
        if not items:
            return
        batches: dict[int, list[dict]] = {}
        for turn_id, frame, _ in items:
            batches.setdefault(turn_id, []).append(frame)
        try:
            logged = await log_frames(client, batches)
        except Exception:  # a lost frame is a gap the browser fills from the log or the DB
            log.exception("could not log %d frame(s) of turns %s", len(items), sorted(batches))
            return
        results = await asyncio.gather(*(send_frames(layer, turn_id, frames)
                                         for turn_id, frames in logged.items()),
                                       return_exceptions=True)
        failed = set()
        for turn_id, result in zip(logged, results):
            if isinstance(result, Exception):
                failed.add(turn_id)
                log.error("could not publish %d frame(s) of turn %s", len(logged[turn_id]), turn_id,
                          exc_info=result)
        for turn_id, _, on_sent in items:
            if on_sent is not None and turn_id not in failed:
                on_sent()

    def publish(self, turn_id: int, frame: dict, on_sent=None) -> None:
        """Queue `frame`; `on_sent()` is called in the publisher's thread once it is sent."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (turn_id, frame, on_sent))

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every frame published so far has been sent (or failed) — not for frames
        other turns publish meanwhile: with many turns streaming the queue is seldom empty, and
        waiting for that held every finished turn's turn.done (and its worker slot) back until
        the last turn ended."""
        reached = threading.Event()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (None, None, reached.set))
        if not reached.wait(timeout):
            raise TimeoutError(f"frames still unsent after {timeout} s")


def publish_now(frames: list[dict]) -> None:
    """Publish frames of turns no worker holds (turn.done of a swept turn) and wait until they
    are out."""
    for frame in frames:
        publisher().publish(frame["turn_id"], frame)
    if frames:
        publisher().drain()


_publisher = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = Publisher()
    return _publisher
