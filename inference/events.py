"""The turn event protocol (docs/protocol.md): one definition of each frame, shared by the
CLI, the worker and the tests. Frames are plain dicts with a `type`."""

from __future__ import annotations

import time

CHANNELS = ("analysis", "commentary", "final")
STATUSES = ("completed", "cancelled", "failed", "length")
METRIC_KEYS = (
    "queue_ms", "prefill_ms", "ttft_ms", "time_to_final_ms", "total_ms", "prompt_tokens",
    "output_tokens", "tokens_by_channel", "tool_calls", "tool_ms", "decode_tokens_per_s",
    "est_flops", "model", "device", "effort",
)


def turn_queued(request_id, conversation_id, turn_id, queue_position, workers=None):
    """`workers` (an addition): the site's workers by state, {"ready", "loading", "failed"}
    counts and the turn "slots" of the ready ones, so a client can say why a turn waits."""
    frame = {"type": "turn.queued", "request_id": request_id, "conversation_id": conversation_id,
             "turn_id": turn_id, "queue_position": queue_position}
    if workers is not None:
        frame["workers"] = workers
    return frame


def turn_started(turn_id, model, device, worker):
    return {"type": "turn.started", "turn_id": turn_id, "model": model, "device": device,
            "worker": worker}


def message_start(turn_id, index, role, channel, recipient, content_type):
    return {"type": "message.start", "turn_id": turn_id, "index": index, "role": role,
            "channel": channel, "recipient": recipient, "content_type": content_type}


def message_delta(turn_id, index, text):
    return {"type": "message.delta", "turn_id": turn_id, "index": index, "text": text}


def message_end(turn_id, index, tokens):
    return {"type": "message.end", "turn_id": turn_id, "index": index, "tokens": tokens}


def tool_call(turn_id, call_id, index, name, arguments):
    return {"type": "tool.call", "turn_id": turn_id, "call_id": call_id, "index": index,
            "name": name, "arguments": arguments}


def tool_result(turn_id, call_id, name, output, ms):
    return {"type": "tool.result", "turn_id": turn_id, "call_id": call_id, "name": name,
            "output": output, "ms": ms}


def tool_awaiting(turn_id, call_id, name, arguments):
    return {"type": "tool.awaiting", "turn_id": turn_id, "call_id": call_id, "name": name,
            "arguments": arguments}


def turn_done(turn_id, status, metrics, error=None, lint=None):
    """`lint` (an addition): the turn's harmony conformance findings (inference/lint.py), a
    list, empty when clean; left out when the turn was not linted."""
    if status not in STATUSES:
        raise ValueError(f"unknown turn status {status!r}")
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"turn.done metrics lack {', '.join(missing)}")
    frame = {"type": "turn.done", "turn_id": turn_id, "status": status, "error": error,
             "metrics": metrics}
    if lint is not None:
        frame["lint"] = lint
    return frame


def error(code, message, request_id=None, turn_id=None):
    frame = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        frame["request_id"] = request_id
    if turn_id is not None:
        frame["turn_id"] = turn_id
    return frame


def error_info(code, message):
    """The `error` value of `turn.done`."""
    return {"code": code, "message": message}


def message_texts(frames) -> dict[int, str]:
    """Each message's text, by index, as a turn's message.start/message.delta frames built it."""
    out = {}
    for f in frames:
        if f["type"] == "message.start":
            out[f["index"]] = ""
        elif f["type"] == "message.delta":
            out[f["index"]] += f["text"]
    return out


class Coalescer:
    """Merges `message.delta` frames as docs/protocol.md asks ("Coalescing"): the first delta
    of a turn goes out at once; later deltas of the same message are held and flushed at most
    every `interval` seconds, and before any other frame, so order and text are kept exactly."""

    def __init__(self, send, interval=0.05, clock=time.monotonic):
        self._send, self._interval, self._clock = send, interval, clock
        self._pending = None  # a message.delta frame being extended
        self._last_flush = None

    def __call__(self, frame):
        if frame["type"] != "message.delta":
            self.flush()
            self._send(frame)
            return
        if self._last_flush is None:  # first delta of the turn
            self._last_flush = self._clock()
            self._send(frame)
            return
        if self._pending is not None and self._pending["index"] != frame["index"]:
            self.flush()
        if self._pending is None:
            self._pending = dict(frame)
        else:
            self._pending["text"] += frame["text"]
        if self._clock() - self._last_flush >= self._interval:
            self.flush()

    def flush(self):
        if self._pending is not None:
            self._send(self._pending)
            self._pending = None
            self._last_flush = self._clock()
