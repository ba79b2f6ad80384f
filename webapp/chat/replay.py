"""Rebuild the protocol frames of a stored turn from the database.

The browser renders stored turns with the same code that renders live ones: it feeds
these frames to the same view. The database row is the truth (docs/protocol.md: delivery on
the channel layer is at-most-once), so a reconnecting client also catches up from here.
Each stored message becomes one `message.start`, one `message.delta` with its whole text
(the concatenation of the deltas that were streamed) and one `message.end`; tool frames
sit where `inference.turn.run_turn` emits them.
"""

from __future__ import annotations

from inference import events
from inference.tools import python as python_tool
from inference.turn import parse_arguments


def tool_name(recipient: str) -> str:
    """`functions.calculator` -> `calculator`, as run_turn names a call."""
    return recipient.removeprefix("functions.")


def message_frames(turn_id, message) -> list[dict]:
    start = events.message_start(turn_id, message.index, message.role, message.channel,
                                 message.recipient, message.content_type)
    if message.author:
        start["author"] = message.author
    frames = [start]
    if message.text:
        frames.append(events.message_delta(turn_id, message.index, message.text))
    frames.append(events.message_end(turn_id, message.index, message.tokens))
    return frames


def queued_frame(turn, position: int | None, workers: dict | None = None) -> dict:
    """The turn's turn.queued; a comparison's turn also says which comparison and effort
    (docs/protocol.md, "turn.compare")."""
    frame = events.turn_queued(turn.request_id, turn.conversation_id, turn.id, position, workers)
    if turn.comparison_id is not None:
        frame["comparison_id"] = turn.comparison_id
        frame["effort"] = turn.effort
    return frame


def turn_frames(turn) -> list[dict]:
    """The frames of `turn` in stream order: queued, started, each message (a tool call is
    followed by its `tool.call`; a server-run tool's answer is preceded by its
    `tool.result`), then `tool.awaiting` for a turn paused on a call, or `turn.done`."""
    turn_id = turn.id
    frames = [queued_frame(turn, None)]
    if turn.started_at is not None:
        frames.append(events.turn_started(turn_id, turn.model, turn.device, turn.worker))

    call_names = {}  # call_id -> tool name
    python_on = python_tool.NAME in (turn.settings or {}).get("builtin_tools", [])
    for message in sorted(turn.messages.all(), key=lambda m: m.index):  # uses a prefetch
        if message.role == "tool" and message.tool_ms is not None and message.call_id in call_names:
            frames.append(events.tool_result(turn_id, message.call_id, call_names[message.call_id],
                                             message.text, message.tool_ms))
        frames += message_frames(turn_id, message)
        if message.role == "assistant" and message.call_id:
            name = tool_name(message.recipient or "")
            if python_on and message.recipient == python_tool.NAME:  # its input is the code
                arguments = message.text
            else:
                arguments, _ = parse_arguments(message.text)
            frames.append(events.tool_call(turn_id, message.call_id, message.index, name, arguments))
            call_names[message.call_id] = name

    if turn.status == "awaiting" and turn.pending_call:
        call = turn.pending_call
        frames.append(events.tool_awaiting(turn_id, call["call_id"], call["name"], call["arguments"]))
    elif turn.status in events.STATUSES:
        frames.append(events.turn_done(turn_id, turn.status, turn.protocol_metrics(), turn.error,
                                       turn.lint))
    return frames
