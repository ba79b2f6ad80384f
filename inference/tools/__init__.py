"""Built-in tools: a small registry the turn loop consults for server-side implementations.

A tool is an object with `name`, `declaration()` (an `inference.harmony.FunctionTool`) and
`run(arguments: dict) -> str`. Errors a tool meets are returned to the model as text; only
a bug raises. Register new tools with `registry.register(tool)`.

Every call runs bounded (inference/tools/bounded.py): in a pool of child processes that can
be killed on a wall-clock limit, its output cut to a size limit.
"""

from __future__ import annotations


class UnknownTool(KeyError):
    pass


class Registry:
    def __init__(self):
        self._tools = {}
        self._why_not = {}  # name -> why a known tool is not available here

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
