"""Built-in tools: a small registry the turn loop consults for server-side implementations.

A tool is an object with `name`, `declaration()` and `run(arguments) -> str`. Errors a tool
meets are returned to the model as text; only a bug raises. Register new tools with
`registry.register(tool)`.

Two kinds of declaration (inference/harmony.py): a `FunctionTool` is called as
`functions.<name>` with JSON arguments (calculator, clock); a `SystemTool` is one of gpt-oss's
own built-in tools, declared in the system message and addressed by its bare name, its
"arguments" the raw text of the call (python: the code; inference/tools/python.py).

Every call runs bounded (inference/tools/bounded.py): function tools in a pool of child
processes that can be killed on a wall-clock limit; tools with `sandboxed = True` start a
sandbox of their own and bound it themselves. Either way the output is cut to a size limit.
"""

from __future__ import annotations


class UnknownTool(KeyError):
    pass


class Registry:
    def __init__(self):
        self._tools = {}
        self._why_not = {}  # name -> why a known tool is not available here (python: off)

    def register(self, tool):
        self._tools[tool.name] = tool
        self._why_not.pop(tool.name, None)
        return tool

    def unregister(self, name, why_not=None):
        """Removes a tool; `why_not` is then what asking for it answers."""
        self._tools.pop(name, None)
        if why_not:
            self._why_not[name] = why_not

    def get(self, name):
        try:
            return self._tools[name]
        except KeyError:
            if name in self._why_not:
                raise UnknownTool(f"built-in tool {name!r} is unavailable: {self._why_not[name]}") from None
            known = ", ".join(sorted(self._tools)) or "none"
            raise UnknownTool(f"unknown built-in tool {name!r} (known: {known})") from None

    def names(self):
        return sorted(self._tools)


registry = Registry()

from . import builtin  # noqa: E402,F401  (registers calculator and clock; needs `registry` above)
