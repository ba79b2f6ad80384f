"""A stored turn's harmony conformance lint (inference/lint.py), read from its rows: whoever
ends a turn lints it (the worker, or the server for a turn no worker holds), `manage.py
lint_turns` lints stored ones."""

from __future__ import annotations

import logging

from inference import lint

from .models import Turn
from .sink import storable

log = logging.getLogger(__name__)


def lint_turn(turn: Turn, status: str, error: dict | None) -> list[dict]:
    """The findings of `turn`'s stored messages, given the tools its settings declared and
    how it ended (`status`, `error`: passed in, since the worker lints before it stores them)."""
    declared = lint.Declared.from_settings(turn.rendered_settings())
    findings = lint.lint_turn(turn.messages.order_by("index"), declared, status,
                              (error or {}).get("code"))
    return storable(findings)  # headers decoded from token ids may hold a NUL


def lint_ended(turn: Turn, status: str, error: dict | None) -> list[dict] | None:
    """The findings of a turn that is ending with `status`; None while it only pauses for a
    tool output, or if the lint itself broke: that is logged, and never stops the turn ending."""
    if status not in Turn.FINISHED:
        return None
    try:
        return lint_turn(turn, status, error)
    except Exception:
        log.exception("turn %s could not be linted", turn.id)
        return None
