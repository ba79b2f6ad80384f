"""gpt-oss's own python tool runs code in a bubblewrap sandbox (inference/tools/sandbox.py):
hostile code — an infinite loop, a fork bomb, a 10 GB allocation, reading /etc/passwd or the
project's settings, opening a socket — is contained, and the calling process is unharmed and
fast afterwards. The tool is off unless enabled, declared as harmony declares its python tool,
and a turn that calls it gets the output back. The limits are short here (the CPU-burning
tests take a second or two each)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from scripted_engine import ScriptedEngine, final_answer

from inference import harmony
from inference.tools import UnknownTool, python, registry
from inference.tools.sandbox import Limits, Sandbox, SandboxUnavailable
from inference.turn import run_builtin, run_turn

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(wall_s=2, cpu_s=2)


@pytest.fixture(scope="module")
def sandbox():
    try:
        return Sandbox.find(LIMITS)
    except SandboxUnavailable as exc:  # `make test` installs bubblewrap where it runs as root
        pytest.skip(f"no sandbox here: {exc}")


@pytest.fixture
def tool(sandbox):
    """The python tool, enabled for this test, then off again; the caller checked unharmed."""
    enabled = registry.register(python.PythonTool(sandbox))
    yield enabled
    python.disable()
    assert_unharmed(sandbox)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def assert_unharmed(sandbox):
    """The caller is fine afterwards: the sandbox and the tool pool answer at once."""
    started = time.monotonic()
    assert sandbox.run("print(6 * 7)").output == "42\n"
    assert run_builtin("calculator", {"expression": "6*7"}) == "42"
    assert time.monotonic() - started < 1.5


def hostile(code: str) -> tuple[str, str]:
    """The code with a marker that its processes' command lines carry, and the marker."""
    marker = f"marker-{uuid.uuid4().hex}"
    return f"# {marker}\n{code}", marker


def run_contained(tool, code):
    """Runs hostile code; after it, none of its processes is left and the caller's memory has
    not grown (what it read of the output is capped)."""
    code, marker = hostile(code)
    rss_before = resident_mb()
    started = time.monotonic()
    output = tool.run(code)
    took = time.monotonic() - started
    assert resident_mb() - rss_before < 20
    deadline = time.monotonic() + 2
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == [], "processes of the sandboxed code outlived it"
    return output, took


def test_an_infinite_loop_is_stopped_at_the_wall_clock(tool):
    output, took = run_contained(tool, "print('looping', flush=True)\nwhile True:\n    pass")
    assert output == "error: the python tool timed out after 2 s; its output until then:\nlooping\n"
    assert took < 2 + 1


def test_cpu_time_is_limited_apart_from_the_wall_clock(sandbox):
    cpu_bound = python.PythonTool(Sandbox(sandbox.bwrap, sandbox.python, Limits(wall_s=5, cpu_s=1)))
    output, took = run_contained(cpu_bound, "while True:\n    pass")
    assert output == "error: the code was stopped after 1 s of CPU time"
    assert took < 5


FORK_BOMB = """
import os, time
forked = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
except OSError as exc:
    print(f"fork refused after {forked}: {type(exc).__name__}", flush=True)
while True:  # and the classic bomb on top
    try:
        os.fork()
    except OSError:
        pass
"""


def test_a_fork_bomb_is_held_to_the_process_limit_and_killed_whole(tool):
    output, took = run_contained(tool, FORK_BOMB)
    first, rest = output.split("\n", 1)
    assert first == "error: the python tool timed out after 2 s; its output until then:"
    assert rest.startswith("fork refused after ") and rest.strip().endswith("BlockingIOError")
    assert int(rest.split()[3].rstrip(":")) < LIMITS.processes
    assert took < 2 + 1


def test_a_10_gb_allocation_fails_inside_the_sandbox(tool):
    output, took = run_contained(tool, "data = bytearray(10 * 1024**3)\nprint(len(data))")
    assert output.splitlines()[-1] == "MemoryError"
    assert took < 1.5


def test_the_hosts_etc_passwd_is_not_there(tool):
    assert Path("/etc/passwd").read_text().startswith("root:")  # the host has one
    output, _ = run_contained(tool, "print(open('/etc/passwd').read())")
    assert "root:" not in output
    assert output.splitlines()[-1] == "FileNotFoundError: [Errno 2] No such file or directory: '/etc/passwd'"


def test_the_project_its_settings_and_environment_are_unreachable(tool, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "marker-secret-of-the-host")
    settings = ROOT / "webapp" / "settings.py"
    assert settings.exists()
    code = f"""
import os, sys
print(sorted(os.listdir("/")))
print(sorted(os.environ))
print(os.getcwd(), os.getuid())
for attempt in (lambda: open({str(settings)!r}).read(), lambda: __import__("webapp.settings")):
    try:
        attempt()
        print("reached")
    except Exception as exc:
        print(type(exc).__name__)
"""
    output, _ = run_contained(tool, code)
    listing, environment, where, by_path, by_import = output.splitlines()
    assert set(eval(listing)) <= {"bin", "dev", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"}
    assert set(eval(environment)) <= {"PWD", "LC_CTYPE"}  # bwrap's PWD, Python's own locale
    assert "marker-secret-of-the-host" not in output
    assert where == "/tmp 65534"
    assert (by_path, by_import) == ("FileNotFoundError", "ModuleNotFoundError")


def test_no_network_not_even_the_hosts_loopback(tool):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=1).close()  # reachable from here
    code = f"""
import socket
for address in (("127.0.0.1", {port}), ("127.0.0.1", 6379), ("10.255.255.1", 80)):
    try:
        socket.create_connection(address, timeout=1)
        print("connected", address)
    except OSError as exc:
        print(type(exc).__name__, exc.strerror)
"""
    try:
        output, took = run_contained(tool, code)
    finally:
        listener.close()
    assert output.splitlines() == ["ConnectionRefusedError Connection refused",
                                   "ConnectionRefusedError Connection refused",
                                   "OSError Network is unreachable"]
    assert took < 1.5


def test_the_output_is_cut_and_the_code_stopped(tool):
    output, _ = run_contained(tool, "while True:\n    print('x' * 1000)")
    kept, note = output.rsplit("\n", 1)
    assert len(kept) == LIMITS.output_chars
    assert note == "[output truncated at 16,000 characters; the code was stopped there]"


def test_the_working_directory_is_thrown_away_and_the_rest_is_read_only(tool):
    first = tool.run("open('note.txt', 'w').write('kept?')\nimport os\nos.listdir('.')")
    assert first == "['note.txt']\n"
    second = tool.run("import os\nprint(os.listdir('.'))\nopen('/usr/evil', 'w')")
    assert second.startswith("[]\n") and "OSError: [Errno 30] Read-only file system: '/usr/evil'" in second


def test_the_code_cannot_lift_its_limits(tool):
    output = tool.run("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))")
    assert output.splitlines()[-1] == "ValueError: not allowed to raise maximum limit"


def test_sandbox_runs_unprivileged(sandbox):
    if os.geteuid() == 0:  # the process limit does not bind root: bwrap starts as nobody
        assert sandbox.credentials == {"user": 65534, "group": 65534, "extra_groups": []}
    assert sandbox.run("import os\nprint(os.getuid(), os.getgid())").output == "65534 65534\n"


def test_errors_and_values_come_back_as_a_notebook_shows_them(tool):
    assert tool.run("x = 6\nx * 7") == "42\n"
    assert tool.run("print('a')\nNone") == "a\n"
    assert tool.run("1/0") == ("Traceback (most recent call last):\n  File \"<python>\", line 1, in <module>\n"
                               "ZeroDivisionError: division by zero\n")
    assert tool.run("def f(:").endswith("SyntaxError: invalid syntax\n")
    assert tool.run("   ") == "error: send the Python code as the message's text"
    assert tool.run("print(1)\0") == "error: the code contains a NUL character"
    assert tool.run("print('é ✓')") == "é ✓\n"


# --- the turn loop -------------------------------------------------------------------------

def python_call(code):
    return ("<|channel|>analysis<|message|>Let me compute it.<|end|>"
            f"<|start|>assistant<|channel|>analysis to=python code<|message|>{code}<|call|>")


def test_a_turn_calls_python_and_reads_its_output(tool):
    engine = ScriptedEngine(python_call("print(sum(range(10)))"), final_answer("The sum is 45."))
    frames = []
    settings = harmony.TurnSettings(builtin_tools=["calculator", "python"])
    result = run_turn(engine, [harmony.Msg("user", "Sum 0..9")], settings, frames.append, turn_id=9)

    assert result.status == "completed" and result.error is None
    [call] = [f for f in frames if f["type"] == "tool.call"]
    assert (call["name"], call["arguments"]) == ("python", "print(sum(range(10)))")
    [tool_result] = [f for f in frames if f["type"] == "tool.result"]
    assert tool_result["output"] == "45\n"
    [start] = [f for f in frames if f["type"] == "message.start" and f["role"] == "tool"]
    assert (start["author"], start["channel"], start["recipient"]) == ("python", "analysis", "assistant")
    assert [m.text for m in result.messages] == [
        "Let me compute it.", "print(sum(range(10)))", "45\n", "The sum is 45."]
    second_prompt = harmony.decode(engine.prompts[1])
    assert second_prompt.endswith(
        "<|start|>python to=assistant<|channel|>analysis<|message|>45\n<|end|><|start|>assistant")


def test_python_is_declared_in_the_system_message_as_harmony_declares_it(tool):
    prompt = harmony.decode(harmony.render_prompt(
        [harmony.Msg("user", "hi")], harmony.TurnSettings(builtin_tools=["calculator", "python"])))
    system, developer = prompt.split("<|end|>")[:2]
    assert "# Tools\n\n## python\n\nUse this tool to execute Python code in your chain of thought." in system
    assert "stateless sandbox" in system and "times out after 2 seconds" in system
    assert "namespace functions" in developer and "type calculator" in developer
    assert "python" not in developer


def test_python_addressed_as_a_function_is_told_how_to_call_it(tool):
    call = ('<|channel|>commentary to=functions.python <|constrain|>json'
            '<|message|>{"code": "print(1)"}<|call|>')
    frames = []
    run_turn(ScriptedEngine(call, final_answer("ok")), [harmony.Msg("user", "x")],
             harmony.TurnSettings(builtin_tools=["python"]), frames.append, turn_id=1)
    [tool_result] = [f for f in frames if f["type"] == "tool.result"]
    assert tool_result["output"] == "error: python is not a function: send the code to python itself (to=python)"


# --- off unless enabled ------------------------------------------------------------------

def test_python_is_off_by_default_and_says_how_to_enable_it():
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", "from inference.tools import registry; print(registry.names())"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)  # no web app
    assert fresh.stdout.strip() == "['calculator', 'clock']", fresh.stderr
    with pytest.raises(UnknownTool, match="built-in tool 'python' is unavailable: it is off on this "
                                          r"server \(an admin enables it: GPTOSS_PYTHON_TOOL=1\)"):
        harmony.render_prompt([harmony.Msg("user", "hi")], harmony.TurnSettings(builtin_tools=["python"]))
    assert "python" not in registry.names()
    frames = []
    run_turn(ScriptedEngine(python_call("print(1)"), final_answer("no")), [harmony.Msg("user", "x")],
             harmony.TurnSettings(builtin_tools=["calculator"]), frames.append, turn_id=1)
    [tool_result] = [f for f in frames if f["type"] == "tool.result"]
    assert tool_result["output"] == "error: there is no tool 'python' (available: calculator)"


def test_without_bubblewrap_the_tool_refuses_to_enable_and_says_why(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(bwrap\) is not installed: apt-get install bubblewrap"):
        python.enable()
    with pytest.raises(UnknownTool, match="no sandbox can start here: bubblewrap"):
        registry.get("python")
    python.disable()


def test_a_bubblewrap_that_cannot_sandbox_here_is_refused_with_its_words():
    folder = tempfile.mkdtemp()
    try:
        os.chmod(folder, 0o755)  # bwrap starts as nobody when the tests run as root
        fake = Path(folder) / "bwrap"
        fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IROTH)
        with pytest.raises(SandboxUnavailable, match="bubblewrap cannot start a sandbox on this machine: "
                                                     "bwrap: No permissions to create new namespace"):
            Sandbox.find(bwrap=str(fake))
    finally:
        shutil.rmtree(folder)


def test_enable_registers_it_where_a_sandbox_works(sandbox):
    try:
        tool = python.enable(LIMITS)
        assert registry.get("python") is tool and tool.timeout_s == 2
    finally:
        python.disable()
    assert "python" not in registry.names()


def test_the_command_line_enables_python_when_tools_name_it(sandbox):
    import subprocess
    import sys

    render = [sys.executable, "-m", "inference", "render", "--tools", "calculator,python", "hi"]
    done = subprocess.run(render, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "# Tools\n\n## python\n\n" in done.stdout
    without = subprocess.run(render, cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PATH": "/nonexistent"})
    assert without.returncode == 2
    assert without.stderr.strip() == "error: bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
