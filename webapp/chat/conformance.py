"""A stored turn's harmony conformance lint (inference/lint.py), read from its rows: the
worker lints a turn when it ends, `manage.py lint_turns` lints stored ones."""

from __future__ import annotations

from inference import lint

from .frames import harmony_settings
from .models import Turn
from .sink import storable


def lint_turn(turn: Turn, status: str, error: dict | None) -> list[dict]:
    """The findings of `turn`'s stored messages, given the tools its settings declared and
    how it ended (`status`, `error`: passed in, since the worker lints before it stores them)."""
    declared = lint.Declared.from_settings(harmony_settings(turn.effort, turn.settings or {}))
    findings = lint.lint_turn(turn.messages.order_by("index"), declared, status,
                              (error or {}).get("code"))
    return storable(findings)  # headers decoded from token ids may hold a NUL
