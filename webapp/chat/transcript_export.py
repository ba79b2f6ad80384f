"""Stored turns as post-training rows (docs/training-data.md): which turns, and each one's row.

`export_transcripts` (management command) and the turn admin's export action both use this;
the rows themselves are built by `inference.training_data`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from inference import harmony, training_data
from inference.tools import UnknownTool

from .models import Turn

FORMATS = ("harmony", "tokens")
SAMPLING_KEYS = ("temperature", "top_p", "max_output_tokens", "seed")


def exportable(turns):
    """Finished turns, oldest first (a running or paused turn is not a whole turn yet)."""
    return (turns.filter(status__in=Turn.FINISHED).order_by("id")
            .select_related("conversation__user"))


def lint_clean(turns):
    """Completed turns whose conformance lint found nothing (`Turn.lint` is []; null: not
    linted, so not known to be clean). Only a completed turn is held to every check: the lint
    spares a turn cut off (cancelled, out of tokens, failed outside the model) no_final or
    missing_stop or both, so its [] says only that what came before the cut conforms, and a
    turn cancelled while queued is [] with nothing written at all. A completed turn with []
    has a final message, or no_final would have fired."""
    return turns.filter(status=Turn.Status.COMPLETED, lint=[])


def cut_off(turn: Turn) -> bool:
    """The turn's last message was stopped before it closed (no <|end|>, <|call|> or
    <|return|> among the ids the model generated for it)."""
    last = turn.messages.order_by("index").last()
    return bool(last and last.role == "assistant" and last.token_ids
                and last.token_ids[-1] not in (harmony.END, *harmony.STOP_TOKENS))


def metadata(turn: Turn) -> dict:
    return {
        "conversation": turn.conversation_id,
        "title": turn.conversation.title,
        "turn": turn.id,
        "regenerated_from": turn.regenerated_from_id,
        "user": turn.conversation.user.get_username(),
        "model": turn.model,
        "effort": turn.effort,
        "status": turn.status,
        "queued_at": turn.queued_at.isoformat(),
        "settings": {key: turn.settings[key] for key in SAMPLING_KEYS if key in turn.settings},
    }


def row(turn: Turn, form: str = "harmony") -> dict:
    """One turn's row; RenderError (or UnknownTool: a built-in tool that is off here) when its
    messages cannot be rendered."""
    messages = training_data.conversation(turn.transcript(), turn.rendered_settings())
    if form == "harmony":
        return {**metadata(turn), "messages": training_data.message_dicts(messages)}
    tokens = training_data.tokens_and_mask(messages, cut_off=cut_off(turn))
    return {**metadata(turn), "tokens": tokens.tokens, "loss_mask": tokens.loss_mask}


def rows(turns: Iterable[Turn], form: str = "harmony") -> Iterator[tuple[Turn, dict | None, str | None]]:
    """(turn, row, None) for each turn, or (turn, None, why) for one that cannot be rendered."""
    for turn in turns:
        try:
            yield turn, row(turn, form), None
        except (harmony.RenderError, UnknownTool) as exc:
            yield turn, None, exc.args[0] if exc.args else str(exc)
