"""Harmony rows (docs/training-data.md) read back as a user's conversations, all or nothing.

Rows of one exported conversation (same `conversation` key) become one conversation again,
in file order, a regeneration pointing at its imported original: each turn then renders
exactly the messages its row carries. A row whose history is not what the conversation built
so far gives (its earlier turns were not exported with it) starts a conversation of its own,
whose earlier turns are made from its history (user messages and finals).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings as site
from django.db import transaction
from django.utils import timezone

from inference import harmony, training_data

from . import frames
from .models import Conversation, Message, Turn


class ImportProblem(ValueError):
    """A line that cannot be imported; the message names it and why."""


@dataclass
class Row:
    line: int
    data: dict
    settings: harmony.TurnSettings
    body: list[harmony.Msg]
    stored_settings: dict  # Turn.settings, validated as turn.create's are


@dataclass
class Group:
    """What one exported conversation has become so far."""

    conversation: Conversation | None = None
    turns: dict = field(default_factory=dict)  # exported turn id -> imported Turn


class Mismatch(Exception):
    """The turn just made does not render its row's messages (rolled back)."""


def parse(line: int, text: str) -> Row:
    def problem(why: str) -> ImportProblem:
        return ImportProblem(f"line {line}: {why}")

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise problem(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or "messages" not in data:
        raise problem("not a harmony row (an object with `messages`; tokens rows cannot be imported)")
    for key in ("conversation", "turn", "regenerated_from"):
        if not isinstance(data.get(key), (int, str, type(None))) or isinstance(data.get(key), bool):
            raise problem(f"`{key}` must be an id (a number or a string) or null")
    status = data.get("status", Turn.Status.COMPLETED)
    if status not in Turn.FINISHED:
        raise problem(f"status must be one of {', '.join(Turn.FINISHED)}, got {status!r}")
    try:
        settings, body = training_data.turn_from_messages(data["messages"])
        day = dt.date.fromisoformat(settings.date)
    except harmony.RenderError as exc:
        raise problem(exc.args[0]) from None
    except ValueError:
        raise problem(f"conversation_start_date {settings.date!r} is not YYYY-MM-DD") from None
    sampling = data.get("settings") or {}
    if not isinstance(sampling, dict):
        raise problem("`settings` must be an object")
    raw = {**{k: v for k, v in sampling.items() if k not in ("tools", "builtin_tools", "developer_instructions")},
           "developer_instructions": settings.developer_instructions,
           "builtin_tools": settings.builtin_tools,
           "tools": [{"name": t.name, "description": t.description, "parameters": t.parameters}
                     for t in settings.tools]}
    try:
        stored = frames.turn_settings(raw, max_output_tokens=site.CHAT_MAX_OUTPUT_TOKENS,
                                      max_text_chars=site.CHAT_MAX_TEXT_CHARS)
    except frames.FrameError as exc:
        raise problem(exc.message) from None
    settings.date = day.isoformat()
    return Row(line, data, settings, body, stored)


def new_conversation(user, row: Row) -> Conversation:
    started = dt.datetime.combine(dt.date.fromisoformat(row.settings.date), dt.time(), dt.timezone.utc)
    history, user_text, _ = training_data.split_turn(row.body)
    first = history[0].text if history else user_text
    title = row.data.get("title") if isinstance(row.data.get("title"), str) else None
    return Conversation.objects.create(user=user, title=(title or Conversation.title_for(first))[:200],
                                       created_at=started)


def make_turn(conversation, row: Row, user_text: str, own: list[harmony.Msg], **fields) -> Turn:
    now = timezone.now()
    turn = Turn.objects.create(conversation=conversation, user_text=user_text, effort=row.settings.effort,
                               settings=row.stored_settings, finished_at=now, queued_at=now,
                               model=str(row.data.get("model") or "")[:200], **fields)
    Message.objects.bulk_create(
        Message(turn=turn, index=i, role=m.role, author=m.author, channel=m.channel,
                recipient=m.recipient, content_type=m.content_type, text=m.text)
        for i, m in enumerate(own))
    return turn


def renders_row(turn: Turn, row: Row) -> bool:
    exported = training_data.message_dicts(
        training_data.conversation(turn.transcript(), turn.rendered_settings()))
    return exported == row.data["messages"]


def earlier_turns(history: list[harmony.Msg]) -> list[tuple[str, list[harmony.Msg]]]:
    """A row's history as turns: each user message with what follows it."""
    turns = []
    for m in history:
        if m.role == "user":
            turns.append((m.text, []))
        elif turns:
            turns[-1][1].append(m)
        else:
            raise ValueError("history before the first user message")
    return turns


def place(user, group: Group, row: Row) -> Turn:
    history, user_text, own = training_data.split_turn(row.body)
    status = row.data.get("status", Turn.Status.COMPLETED)
    original = group.turns.get(row.data.get("regenerated_from"))
    if group.conversation is not None:
        try:
            with transaction.atomic():
                turn = make_turn(group.conversation, row, user_text, own, status=status,
                                 regenerated_from=original)
                if not renders_row(turn, row):
                    raise Mismatch
                return turn
        except Mismatch:
            pass
    group.conversation, group.turns = new_conversation(user, row), {}
    try:
        earlier = earlier_turns(history)
    except ValueError as exc:
        raise ImportProblem(f"line {row.line}: {exc}") from None
    for text, messages in earlier:
        make_turn(group.conversation, row, text, messages, status=Turn.Status.COMPLETED)
    turn = make_turn(group.conversation, row, user_text, own, status=status)
    if not renders_row(turn, row):  # turn_from_messages checked the rendering: a bug if so
        raise ImportProblem(f"line {row.line}: the imported turn does not render its messages")
    return turn


@transaction.atomic
def import_rows(lines: Iterable[str], user) -> list[Turn]:
    """Every row of `lines` (blank lines skipped) as `user`'s turns; ImportProblem, and
    nothing imported, at the first line that cannot be."""
    groups: dict = {}
    imported = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        row = parse(number, text)
        key = row.data.get("conversation")
        group = groups.setdefault(("line", number) if key is None else ("conversation", key), Group())
        turn = place(user, group, row)
        if row.data.get("turn") is not None:
            group.turns[row.data["turn"]] = turn
        imported.append(turn)
    return imported
