"""Registers the built-in tools; imported by `inference.tools` so they are always known.
The python tool is known but off until `inference.tools.python.enable()` finds a sandbox."""

from . import python, registry
from .calculator import Calculator
from .clock import Clock

registry.register(Calculator())
registry.register(Clock())
python.disable()
