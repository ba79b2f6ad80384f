"""Pages and the JSON read API of the chat, and the tokenizer inspector. Every view is per
user: a conversation or turn of someone else is a 404, never a 403, so ids reveal nothing."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from inference import tokens
from inference.harmony import EFFORTS
from inference.tools import registry

from . import turn_timeline
from .models import Conversation, Turn
from .replay import turn_frames

SIDEBAR_SIZE = 100
# The tokenizer inspector takes texts up to this many characters; a request body larger than
# TOKENIZE_MAX_BODY is refused before it is read (JSON escapes take up to 12 bytes a character).
TOKENIZE_MAX_CHARS = 10_000
TOKENIZE_MAX_BODY = 12 * TOKENIZE_MAX_CHARS + 1024
TOKENIZER_MODELS = {"o200k_harmony": "gpt-oss", "cl100k_base": "GPT-4"}
TOKENIZER_EXAMPLES = [
    ("Emoji", "😀"),
    ("Korean", "안녕하세요"),
    ("Arabic", "مرحبا بالعالم"),
    ("Long numbers", "1234567 × 7654321 = 9449772114007; π ≈ 3.14159265358979"),
    ("Python with tabs",
     'def greet(name):\n\tif name:\n\t\treturn f"Hello, {name}!"\n\treturn "Hello!"\n'),
]


def turn_payload(turn) -> dict:
    """What the browser needs to draw a stored turn: the user's text (not a protocol frame)
    and the frames it was streamed as."""
    return {
        "turn_id": turn.id,
        "user_text": turn.user_text,
        "effort": turn.effort,
        "settings": turn.settings or {},
        "regenerated_from": turn.regenerated_from_id,
        "frames": turn_frames(turn),
    }


def comparison_payload(comparison) -> dict:
    """A comparison as the browser redraws it: its prompt, the turn it compared (or null) and
    its turns, one per effort in EFFORTS order."""
    turns = sorted(comparison.turns.all(), key=lambda t: EFFORTS.index(t.effort))
    return {
        "comparison_id": comparison.id,
        "source_turn_id": comparison.source_turn_id,
        "created_at": comparison.created_at.isoformat(),
        "user_text": turns[0].user_text if turns else "",
        "settings": (turns[0].settings or {}) if turns else {},
        "turns": [turn_payload(turn) for turn in turns],
    }


def conversation_payload(conversation) -> dict:
    """The conversation's turns (comparisons' turns apart) and its comparisons, each in the
    order it was asked; the browser places a comparison before the first turn asked after it
    (by turn id)."""
    turns = conversation.turns.filter(comparison__isnull=True).order_by("queued_at", "id")
    comparisons = conversation.comparisons.order_by("id").prefetch_related("turns__messages")
    return {
        "id": conversation.id,
        "title": conversation.title,
        "turns": [turn_payload(turn) for turn in turns.prefetch_related("messages")],
        "comparisons": [comparison_payload(comparison) for comparison in comparisons],
    }


def own_conversations(user):
    return Conversation.objects.filter(user=user)


@require_GET
@login_required
def chat(request, conversation_id=None):
    conversation = None
    if conversation_id is not None:
        conversation = get_object_or_404(own_conversations(request.user), pk=conversation_id)
    context = {
        "conversations": own_conversations(request.user).order_by("-updated_at")[:SIDEBAR_SIZE],
        "conversation": conversation,
        "efforts": EFFORTS,
        "python_tool": "python" in registry.names(),  # GPTOSS_PYTHON_TOOL, where a sandbox works
        "page_data": {
            "conversation": conversation_payload(conversation) if conversation else None,
            "efforts": list(EFFORTS),
        },
    }
    return render(request, "chat/chat.html", context)


@require_GET
@login_required
def conversation_api(request, conversation_id):
    conversation = get_object_or_404(own_conversations(request.user), pk=conversation_id)
    return JsonResponse(conversation_payload(conversation))


def own_turns(user):
    return Turn.objects.filter(conversation__user=user).select_related("conversation")


@require_GET
@login_required
def turn_api(request, turn_id):
    turn = get_object_or_404(own_turns(request.user), pk=turn_id)
    return JsonResponse(turn_payload(turn))


@require_GET
@login_required
def turn_timeline_api(request, turn_id):
    return turn_timeline.response(get_object_or_404(own_turns(request.user), pk=turn_id))


@require_GET
@login_required
def turn_code_api(request, turn_id):
    """Copy as code: the prompt of the turn's last generation as text and as Python."""
    turn = get_object_or_404(own_turns(request.user), pk=turn_id)
    return turn_timeline.response(turn, turn_timeline.code)


def timeline_page(request, turn, source: str, back: str, back_label: str):
    """The token timeline page of `turn`, its data read from `source` (the owner's API, or
    the admin's for staff)."""
    return render(request, "chat/timeline.html", {
        "turn": turn, "back": back, "back_label": back_label,
        "page_data": {"source": source, "turn_id": turn.id},
    })


@require_GET
@login_required
def turn_tokens(request, turn_id):
    turn = get_object_or_404(own_turns(request.user), pk=turn_id)
    return timeline_page(request, turn, reverse("chat:turn-timeline-api", args=[turn.id]),
                         reverse("chat:conversation", args=[turn.conversation_id]),
                         "Back to the conversation")


@require_GET
@login_required
def conversations_api(request):
    conversations = own_conversations(request.user).order_by("-updated_at")[:SIDEBAR_SIZE]
    return JsonResponse({"conversations": [
        {"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat()}
        for c in conversations
    ]})


@require_GET
@login_required
def tokenizer(request):
    return render(request, "chat/tokenizer.html", {
        "examples": [label for label, _ in TOKENIZER_EXAMPLES],
        "encodings": [(name, TOKENIZER_MODELS[name]) for name in tokens.ENCODINGS],
        "max_chars": TOKENIZE_MAX_CHARS,
        "page_data": {"examples": [text for _, text in TOKENIZER_EXAMPLES],
                      "max_chars": TOKENIZE_MAX_CHARS},
    })


def tokenize_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message, "max_chars": TOKENIZE_MAX_CHARS}, status=status)


@require_POST
@login_required
def tokenize_api(request):
    """`{"text": …}` → each encoding's count and tokens (id, text, hex of a partial UTF-8
    character), plus characters and the cl100k/o200k ratio. CSRF-protected like every POST."""
    try:  # the declared size first, so that a huge body is never read
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if max(size, 0) <= TOKENIZE_MAX_BODY:
        size = len(request.body)
    if size > TOKENIZE_MAX_BODY:
        return tokenize_error(f"The request is {size:,} bytes; the tokenizer takes texts of at "
                              f"most {TOKENIZE_MAX_CHARS:,} characters.", 413)
    try:
        text = json.loads(request.body).get("text")
    except (ValueError, AttributeError):
        return tokenize_error('Send a JSON object: {"text": "…"}.', 400)
    if not isinstance(text, str):
        return tokenize_error('"text" must be a string.', 400)
    if len(text) > TOKENIZE_MAX_CHARS:
        return tokenize_error(f"The text is {len(text):,} characters; the tokenizer takes at most "
                              f"{TOKENIZE_MAX_CHARS:,}.", 413)
    result = tokens.inspect(text)
    return JsonResponse({
        "chars": len(text),
        **result,
        "ratio": tokens.ratio(result["o200k_harmony"]["count"], result["cl100k_base"]["count"]),
    })
