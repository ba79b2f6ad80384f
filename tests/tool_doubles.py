"""Misbehaving built-in tools for the tests of inference/tools/bounded.py. A `ToolPool` made
with `imports=["tool_doubles"]` registers `TOOLS` in its child processes; the `tool_doubles`
fixture (test_tool_limits.py) registers them in the test's own registry too."""

import os
import re
import time

from inference.harmony import FunctionTool


class Double:
    timeout_s = 0.5
    description = ""

    def declaration(self):
        return FunctionTool(self.name, self.description, {"type": "object", "properties": {}})


class Sleeper(Double):
    """Blocks without using the CPU (a hung network call, a lock)."""
    name = "sleeper"

    def run(self, arguments):
        time.sleep(arguments.get("seconds", 30))
        return "woke up"


class Backtracker(Double):
    """Holds the GIL while it runs: the regular-expression engine does not release it, so in
    the worker's own interpreter every other thread (the heartbeat) would stand still."""
    name = "backtracker"

    def run(self, arguments):
        return str(re.match(r"(a+)+$", "a" * arguments.get("n", 40) + "b"))


class Chatterbox(Double):
    name = "chatterbox"

    def run(self, arguments):
        return "é" * arguments.get("chars", 1_000_000)


class Crasher(Double):
    name = "crasher"

    def run(self, arguments):
        os._exit(3)


TOOLS = [Sleeper(), Backtracker(), Chatterbox(), Crasher()]
