"""Every built-in tool call is bounded (inference/tools/bounded.py): a wall-clock limit, an
output limit, and a process of its own, so that a runaway tool cannot block the worker, its
heartbeat thread or the turn. The misbehaving tools are in tool_doubles.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tool_doubles
from scripted_engine import ScriptedEngine, final_answer

from inference import harmony
from inference.tools import bounded, registry
from inference.turn import run_builtin, run_turn

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def doubles(monkeypatch):
    """The doubles registered here and in the children of a pool of their own."""
    pool = bounded.ToolPool(imports=["tool_doubles"], path=[TESTS])
    monkeypatch.setattr(bounded, "pool", pool)
    for tool in tool_doubles.TOOLS:
        registry.register(tool)
    yield pool
    for tool in tool_doubles.TOOLS:
        registry.unregister(tool.name)
    pool.close()


def call(name, arguments):
    return (f'<|channel|>commentary to=functions.{name} <|constrain|>json'
            f'<|message|>{arguments}<|call|>')


def test_a_hanging_tool_times_out_and_the_turn_goes_on(doubles):
    engine = ScriptedEngine(call("sleeper", '{"seconds": 30}'), final_answer("It did not answer."))
    frames = []
    started = time.monotonic()
    result = run_turn(engine, [harmony.Msg("user", "Wait.")],
                      harmony.TurnSettings(builtin_tools=["sleeper"]), frames.append, turn_id=3)
    took = time.monotonic() - started

    [tool_result] = [f for f in frames if f["type"] == "tool.result"]
    assert tool_result["output"] == "error: the sleeper tool timed out after 0.5 s"
    assert result.status == "completed" and result.messages[-1].text == "It did not answer."
    assert "error: the sleeper tool timed out after 0.5 s" in harmony.decode(engine.prompts[1])
    assert took < 3


def test_a_tool_holding_the_gil_does_not_stop_the_other_threads(doubles):
    """The worker's heartbeat is a thread: it must keep beating while a tool runs away. In the
    worker's own interpreter this regular expression would hold the GIL for seconds."""
    beats, stop = [], threading.Event()

    def heartbeat():
        while not stop.wait(0.05):
            beats.append(time.monotonic())

    thread = threading.Thread(target=heartbeat)
    thread.start()
    started = time.monotonic()
    try:
        output = run_builtin("backtracker", {"n": 27})
    finally:
        stop.set()
        thread.join()
    took = time.monotonic() - started

    gaps = [b - a for a, b in zip([started, *beats], beats)]
    # in-process, the longest gap would be the whole match (≈ 5 s); a loaded machine may
    # delay a beat, never by that much
    assert len(beats) >= 5 and max(gaps) < 1.0, f"the heartbeat stalled: longest gap {max(gaps):.2f} s"
    assert output == "error: the backtracker tool timed out after 0.5 s"
    assert took < 2


def test_the_pool_recovers_after_a_timeout_and_is_fast_again(doubles):
    assert run_builtin("sleeper", {"seconds": 30}).endswith("timed out after 0.5 s")
    run_builtin("calculator", {"expression": "1+1"})  # a fresh child starts here
    started = time.perf_counter()
    assert run_builtin("calculator", {"expression": "12*34"}) == "408"
    assert time.perf_counter() - started < 0.5


def test_output_is_cut_to_the_size_limit(doubles):
    output = run_builtin("chatterbox", {"chars": 1_000_000})
    kept, note = output.rsplit("\n", 1)
    assert kept == "é" * bounded.MAX_OUTPUT_CHARS
    assert note == f"[output truncated: 1,000,000 characters, the limit is {bounded.MAX_OUTPUT_CHARS:,}]"
    assert run_builtin("chatterbox", {"chars": 5}) == "ééééé"


def test_a_tool_that_kills_its_process_is_an_error_and_the_next_call_works(doubles):
    assert run_builtin("crasher", {}) == "error: the crasher tool failed (its process exited with 3)"
    assert run_builtin("calculator", {"expression": "2+2"}) == "4"


def test_a_cancelled_turn_stops_a_running_tool(doubles):
    doubles.warm()
    asked_at = time.monotonic() + 0.3
    started = time.monotonic()
    output = doubles.run("sleeper", {"seconds": 30}, timeout_s=10,
                         should_cancel=lambda: time.monotonic() > asked_at)
    assert output == "error: the sleeper tool was stopped: the turn was cancelled"
    assert time.monotonic() - started < 2  # asked every 0.1 s; the timeout would be 10 s


def test_concurrent_calls_each_get_a_child(doubles):
    """Turns running at once (vLLM) do not queue behind each other's tools."""
    outputs = []

    def sleep():
        outputs.append(doubles.run("sleeper", {"seconds": 1}, timeout_s=5))

    threads = [threading.Thread(target=sleep) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outputs == ["woke up"] * 3
    assert time.monotonic() - started < 2.5  # three children at once, not 3 s in a row


ORPHAN = """
import sys, threading, time
sys.path[:0] = [{root!r}, {tests!r}]
from inference.tools import bounded
import tool_doubles
from inference.tools import registry
for tool in tool_doubles.TOOLS:
    registry.register(tool)
pool = bounded.ToolPool(imports=["tool_doubles"], path=[{tests!r}])
child = pool.take(); pool.give_back(child)
threading.Thread(target=pool.run, args=("backtracker", {{"n": 40}}), kwargs={{"timeout_s": 0.5}}).start()
time.sleep(0.3)
print(child.process.pid, flush=True)
import os; os._exit(0)  # the worker dies while the tool runs away
"""


def test_a_runaway_tool_ends_by_itself_when_the_worker_dies():
    """Nobody is left to kill it: its CPU-time limit (the timeout plus a second) does."""
    code = ORPHAN.format(root=str(TESTS.parent), tests=str(TESTS))
    # stderr, which the orphan inherits, is not waited for: only the pid it prints
    run = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=30)
    pid = int(run.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not zombie(pid):
        time.sleep(0.1)
    alive = Path(f"/proc/{pid}").exists() and not zombie(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)  # the test's own orphan, not left burning a CPU
    assert not alive, "the orphaned tool process still runs"


def zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def test_per_call_overhead_of_the_pool_is_small():
    """The calculator and the clock pay one pipe round trip to a waiting child per call."""
    run_builtin("calculator", {"expression": "1+1"})  # the child is started
    n = 200
    started = time.perf_counter()
    for _ in range(n):
        run_builtin("calculator", {"expression": "12*34"})
    bounded_us = (time.perf_counter() - started) / n * 1e6
    tool = registry.get("calculator")
    started = time.perf_counter()
    for _ in range(n):
        tool.run({"expression": "12*34"})
    direct_us = (time.perf_counter() - started) / n * 1e6
    print(f"calculator per call: {bounded_us:.0f} µs bounded, {direct_us:.0f} µs in-process")
    assert bounded_us - direct_us < 2000


def test_the_child_sees_the_same_tools_as_the_worker():
    assert run_builtin("clock", {"timezone": "Mars/Olympus"}).startswith("error: unknown time zone")
    assert run_builtin("calculator", {}) == "error: missing argument 'expression'"
