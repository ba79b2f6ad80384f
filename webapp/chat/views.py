"""Pages and the JSON read API of the chat. Every view is per user: a conversation or
turn of someone else is a 404, never a 403, so ids reveal nothing."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from inference.harmony import EFFORTS

from .models import Conversation, Turn
from .replay import turn_frames

SIDEBAR_SIZE = 100


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


def conversation_payload(conversation) -> dict:
    turns = conversation.turns.order_by("queued_at", "id").prefetch_related("messages")
    return {
        "id": conversation.id,
        "title": conversation.title,
        "turns": [turn_payload(turn) for turn in turns],
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


@require_GET
@login_required
def turn_api(request, turn_id):
    turn = get_object_or_404(Turn.objects.filter(conversation__user=request.user), pk=turn_id)
    return JsonResponse(turn_payload(turn))


@require_GET
@login_required
def conversations_api(request):
    conversations = own_conversations(request.user).order_by("-updated_at")[:SIDEBAR_SIZE]
    return JsonResponse({"conversations": [
        {"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat()}
        for c in conversations
    ]})
