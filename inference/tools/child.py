"""The process a `ToolPool` (inference/tools/bounded.py) runs function tools in.

Started with `python -c` by the pool, it reads one JSON request a line on stdin
(`{"tool": name, "arguments": {...}, "max_chars": n}`) and answers one JSON line
(`{"output": text, "chars": length before the cut}`) on the descriptor stdout had at start;
stdout itself is pointed at stderr, so a tool that prints cannot garble the answers. It caps
its own address space, exits when stdin closes, and before each call sets its CPU-time limit
to the call's timeout plus a second: should the worker die while a call runs away (nobody left
to kill it), the kernel ends it with SIGXCPU.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import resource
import sys

MEMORY_BYTES = 512 * 1024**2  # address space: a runaway integer fails with MemoryError here


def limit_cpu(timeout_s: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(used + timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def answer(registry, request) -> dict:
    name, limit = request["tool"], request["max_chars"]
    try:
        output = registry.get(name).run(request["arguments"])
    except MemoryError:
        output = f"error: the {name} tool ran out of memory"
    except Exception as exc:  # a bug in a tool must not end the turn; the model is told
        output = f"error: the {name} tool failed ({type(exc).__name__}: {exc})"
    if not isinstance(output, str):
        output = f"error: the {name} tool returned {type(output).__name__}, not text"
    return {"output": output[:limit], "chars": len(output)}


def main(imports: list[str]) -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    from . import registry

    for name in imports:  # test doubles: a module listing TOOLS
        for tool in getattr(importlib.import_module(name), "TOOLS", []):
            registry.register(tool)
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    memory = MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    replies.write('{"ready": true}\n')
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        limit_cpu(request["timeout_s"])
        reply = answer(registry, request)
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()
