"""Every built-in tool call, bounded: a wall-clock limit, an output size limit, and never in
the worker's own interpreter where a runaway computation would hold the GIL (and with it the
turn's heartbeat thread) or the worker's memory.

Function tools (calculator, clock) run in a `ToolPool`: small child processes (a fresh
`python -c`, not a fork of the multi-threaded worker) kept alive between calls, one per call
in flight. A call writes one JSON line and waits for one back; the wait sleeps in `select`, so
the worker's other threads run. Past the tool's `timeout_s` the child is SIGKILLed (a new one
starts on the next call) and the model reads `error: the <tool> tool timed out after N s`.
Tools marked `sandboxed` (python) start a sandbox of their own per call and are bounded there
(inference/tools/sandbox.py); `run_tool` calls them directly.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import registry

DEFAULT_TIMEOUT_S = 5.0
MAX_OUTPUT_CHARS = 16_000  # about 4,000 tokens of the model's context
POLL_S = 0.1  # how often a waiting call asks whether the turn was cancelled
START_TIMEOUT_S = 30.0  # a new child's imports; not counted in the tool's own limit
ROOT = Path(__file__).resolve().parents[2]  # the folder holding the inference package


class ToolTimeout(Exception):
    pass


class ToolCancelled(Exception):
    pass


class ToolDied(Exception):
    pass


def truncated(output: str, chars: int, limit: int) -> str:
    """The first `limit` characters of an output that had `chars`, saying so when cut."""
    if chars <= limit:
        return output
    return f"{output[:limit]}\n[output truncated: {chars:,} characters, the limit is {limit:,}]"


def seconds(value: float) -> str:
    return f"{value:g} s"


class ToolProcess:
    """One child (inference/tools/child.py) and its pipes."""

    def __init__(self, imports=(), path=()):
        paths = [str(ROOT), *map(str, path)]
        boot = (f"import sys; sys.path[:0] = {paths!r}; from inference.tools.child import main; "
                f"main({list(imports)!r})")
        self.process = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, cwd=ROOT)
        self.buffer = b""
        self.started = False  # the child says {"ready": true} once its imports are done

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def call(self, name, arguments, max_chars, timeout_s, should_cancel) -> dict:
        if not self.started:
            try:
                self.read_line(START_TIMEOUT_S, should_cancel, 1024)
            except ToolTimeout:
                raise ToolDied(f"its process did not start in {seconds(START_TIMEOUT_S)}") from None
            self.started = True
        request = json.dumps({"tool": name, "arguments": arguments, "max_chars": max_chars,
                              "timeout_s": timeout_s})
        try:
            self.process.stdin.write(request.encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise ToolDied(self.why_dead()) from None
        return self.read_line(timeout_s, should_cancel, max_chars * 6 + 1024)  # all escaped

    def read_line(self, timeout_s, should_cancel, most) -> dict:
        """The next JSON line from the child, waited for without holding the GIL."""
        deadline = time.monotonic() + timeout_s
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolTimeout
            if should_cancel is not None and should_cancel():
                raise ToolCancelled
            ready, _, _ = select.select([fd], [], [], min(left, POLL_S))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise ToolDied(self.why_dead())
                self.buffer += chunk
                if len(self.buffer) > most:
                    raise ToolDied(f"it answered more than {most:,} bytes")
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def why_dead(self) -> str:
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        return f"its process ended by signal {-code}" if code < 0 else f"its process exited with {code}"


class ToolPool:
    """Child processes for function tools, reused between calls; `imports` names modules whose
    `TOOLS` the children register too (test doubles), found on `path`."""

    def __init__(self, imports=(), path=(), keep_idle=4):
        self.imports, self.path, self.keep_idle = tuple(imports), tuple(path), keep_idle
        self._idle: list[ToolProcess] = []
        self._lock = threading.Lock()

    def take(self) -> ToolProcess:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                child.kill()
        return ToolProcess(self.imports, self.path)

    def give_back(self, child: ToolProcess):
        with self._lock:
            if len(self._idle) < self.keep_idle:
                self._idle.append(child)
                return
        child.kill()

    def warm(self):
        """Starts a child now, so that the first call does not wait for one (≈ 0.1 s)."""
        self.give_back(self.take())

    def run(self, name, arguments, *, timeout_s=DEFAULT_TIMEOUT_S, max_chars=MAX_OUTPUT_CHARS,
            should_cancel=None) -> str:
        child = self.take()
        try:
            reply = child.call(name, arguments, max_chars, timeout_s, should_cancel)
        except ToolTimeout:
            child.kill()
            return f"error: the {name} tool timed out after {seconds(timeout_s)}"
        except ToolCancelled:
            child.kill()
            return f"error: the {name} tool was stopped: the turn was cancelled"
        except ToolDied as exc:
            child.kill()
            return f"error: the {name} tool failed ({exc})"
        except BaseException:
            child.kill()
            raise
        self.give_back(child)
        return truncated(reply["output"], reply["chars"], max_chars)

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()


pool = ToolPool()


def run_tool(name, arguments, should_cancel=None) -> str:
    """The output of built-in tool `name` called with `arguments`, bounded in time and size;
    problems come back as `error: …` text."""
    tool = registry.get(name)
    timeout_s = getattr(tool, "timeout_s", DEFAULT_TIMEOUT_S)
    if getattr(tool, "sandboxed", False):
        output = tool.run(arguments, should_cancel=should_cancel)
        return truncated(output, len(output), MAX_OUTPUT_CHARS)
    return pool.run(name, arguments, timeout_s=timeout_s, should_cancel=should_cancel)
