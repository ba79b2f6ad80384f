"""Registers the built-in tools; imported by `inference.tools` so they are always known."""

from . import registry
from .calculator import Calculator
from .clock import Clock

registry.register(Calculator())
registry.register(Clock())
