"""Built-in tools: a small registry the turn loop consults for server-side implementations.

A tool is an object with `name`, `declaration()` (an `inference.harmony.FunctionTool`) and
`run(arguments: dict) -> str`. Errors a tool meets are returned to the model as text; only
a bug raises. Register new tools with `registry.register(tool)`.
"""

from __future__ import annotations


class UnknownTool(KeyError):
    pass


class Registry:
    def __init__(self):
        self._tools = {}

    def register(self, tool):
        self._tools[tool.name] = tool
        return tool

    def get(self, name):
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none"
            raise UnknownTool(f"unknown built-in tool {name!r} (known: {known})") from None

    def names(self):
        return sorted(self._tools)


registry = Registry()

from . import builtin  # noqa: E402,F401  (registers calculator and clock; needs `registry` above)
