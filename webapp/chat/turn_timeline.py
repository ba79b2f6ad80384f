"""A stored turn's harmony token timeline and its prompt as code (inference/timeline.py,
inference/harmony_code.py), from what the turn keeps: its settings and effort, the history it
was given (`Turn.history`), the user's text, its messages with their token ids and its
conversation's start date (`Turn.rendered_settings`). Its owner reads it in the chat
(views.turn_timeline_api), staff read any turn's in the admin (admin.TurnAdmin)."""

from __future__ import annotations

from django.http import JsonResponse

from inference import harmony, harmony_code, timeline
from inference.tools import UnknownTool


def rebuilt(turn) -> tuple[timeline.Timeline, harmony.TurnSettings]:
    settings = turn.rendered_settings()
    before = turn.history() + [harmony.Msg(role="user", text=turn.user_text)]
    stored = [timeline.Stored(m.index, m.as_msg(), m.token_ids)
              for m in turn.messages.order_by("index")]
    return timeline.build(before, stored, settings), settings


def code_of(turn, built: timeline.Timeline, settings: harmony.TurnSettings) -> dict:
    """The prompt of the turn's last generation as harmony text and as Python ("Copy as code")."""
    title = (f"The prompt of turn {turn.id}'s last generation (round {len(built.rounds)}), "
             f"rebuilt with openai-harmony")
    return {"prompt": harmony.decode(built.last_prompt),
            "python": harmony_code.python_snippet(built.last_given, settings, title)}


def code(turn) -> dict:
    return code_of(turn, *rebuilt(turn))


def payload(turn) -> dict:
    """The timeline as JSON, with what the worker counted (its prompt and output tokens: a
    rebuilt prompt that differs from what it was given shows as a different count) and the
    last generation's prompt as code."""
    built, settings = rebuilt(turn)
    metrics = turn.metrics or {}
    return {
        "turn_id": turn.id, "status": turn.status, "effort": turn.effort, "date": settings.date,
        "user_text": turn.user_text, "model": turn.model or None,
        **built.as_json(),
        "counted": {"prompt_tokens": metrics.get("prompt_tokens"),
                    "output_tokens": metrics.get("output_tokens")},
        "code": code_of(turn, built, settings),
    }


def response(turn, what=payload) -> JsonResponse:
    """`what(turn)` (the timeline, or only its `code`) as JSON, or why the turn's prompt cannot
    be rebuilt here (a tool it declared that this server does not offer, say) as a 422."""
    try:
        return JsonResponse(what(turn))
    except (harmony.RenderError, UnknownTool) as exc:
        why = exc.args[0] if exc.args else type(exc).__name__  # KeyError's str() quotes it
        return JsonResponse({"error": f"The prompt of this turn cannot be rebuilt: {why}"}, status=422)
