"""gpt-oss's own `python` tool, run in a sandbox (inference/tools/sandbox.py).

Declared as harmony declares its built-in python tool: a `## python` namespace in the system
message's `# Tools` (a `SystemTool`), not a function. The model calls it with recipient
`python`, usually on the analysis channel, content type `code`, the message's text being the
code; the output comes back as a message from `python` on the same channel.

Off unless enabled: `enable()` registers it once a probe sandbox has run, and raises
SandboxUnavailable (leaving it off, with the reason as the answer to whoever asks for it)
where bubblewrap is missing or cannot work. The web app enables it when GPTOSS_PYTHON_TOOL=1,
the command line when `--tools` names it.
"""

from __future__ import annotations

import signal

from . import registry
from .sandbox import Limits, Sandbox, SandboxUnavailable

NAME = "python"
OFF = "it is off on this server (an admin enables it: GPTOSS_PYTHON_TOOL=1)"

# harmony's own text for this tool (`SystemContent.with_python_tool()`) promises a stateful
# Jupyter notebook, a 120 s timeout and a /mnt/data drive; the first paragraph is kept, the
# rest says what this sandbox is (as gpt-oss's reference docker tool does for its own).
DESCRIPTION = (
    "Use this tool to execute Python code in your chain of thought. The code will not be "
    "shown to the user. This tool should be used for internal reasoning, but not for code that "
    "is intended to be visible to the user (e.g. when creating plots, tables, or files).\n"
    "When you send a message containing Python code to python, it will be executed in a "
    "stateless sandbox: each message runs in a fresh interpreter (the standard library is "
    "available), with no internet access and a scratch working directory that is deleted "
    "afterwards. What the code "
    "prints (stdout and stderr) is returned to you, and the value of a last bare expression; "
    "use print statements for anything else. It times out after {wall:g} seconds."
)


class PythonTool:
    name = NAME
    sandboxed = True  # bounded by its sandbox, not run in the tool pool (inference/tools/bounded.py)

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    @property
    def timeout_s(self) -> float:
        return self.sandbox.limits.wall_s

    def declaration(self):
        from ..harmony import SystemTool

        return SystemTool(name=NAME, description=DESCRIPTION.format(wall=self.timeout_s))

    def run(self, code, should_cancel=None) -> str:
        """The code's output, or `error: …` (the timeout, the limits) before what it printed."""
        if isinstance(code, dict):  # called like a function tool: {"code": "..."}
            code = code.get("code")
        if not isinstance(code, str) or not code.strip():
            return "error: send the Python code as the message's text"
        try:
            outcome = self.sandbox.run(code, should_cancel=should_cancel)
        except ValueError as exc:
            return f"error: {exc}"
        limits = self.sandbox.limits
        output = outcome.output
        if outcome.cut:
            output += (f"\n[output truncated at {limits.output_chars:,} characters; "
                       "the code was stopped there]")
        problem = None
        if outcome.timed_out:
            problem = f"the python tool timed out after {limits.wall_s:g} s"
        elif outcome.cancelled:
            problem = "the python tool was stopped: the turn was cancelled"
        elif outcome.signal in (signal.SIGXCPU, signal.SIGKILL):
            problem = f"the code was stopped after {limits.cpu_s} s of CPU time"
        elif outcome.signal:
            problem = f"the code was killed by signal {outcome.signal} ({signal.strsignal(outcome.signal)})"
        if problem is None:
            return output
        return f"error: {problem}" + (f"; its output until then:\n{output}" if output else "")


def enable(limits: Limits = Limits()) -> PythonTool:
    """Registers the python tool once a sandbox has worked here; SandboxUnavailable if not
    (the tool stays off, and asking for it answers why)."""
    try:
        tool = PythonTool(Sandbox.find(limits))
    except SandboxUnavailable as exc:
        registry.unregister(NAME, why_not=f"no sandbox can start here: {exc}")
        raise
    return registry.register(tool)


def enable_if_named(names) -> None:
    """The command line's way: naming `python` in --tools enables it (the one who runs the CLI
    is its admin); SandboxUnavailable if no sandbox can start here."""
    if NAME in names and NAME not in registry.names():
        enable()


def disable() -> None:
    registry.unregister(NAME, why_not=OFF)
