"""Plain factories shared by the web app's tests."""


def turn_create(**overrides) -> dict:
    """A valid turn.create frame (docs/protocol.md), with `overrides`."""
    return {"type": "turn.create", "request_id": "r1", "conversation_id": None,
            "text": "What is 12 * 34?", "effort": "high", **overrides}


def stored_turn(user, request_id="r1", user_text="Hi", effort="low", **fields):
    """A turn in a new conversation of `user`, as the consumer stores it (queued unless told)."""
    from webapp.chat.models import Conversation, Turn

    conversation = Conversation.objects.create(user=user, title="t")
    return Turn.objects.create(conversation=conversation, request_id=request_id,
                               user_text=user_text, effort=effort, **fields)


def frame_log(turn_id: int) -> list[dict]:
    """The turn's frame log in Redis (what its worker published, with `seq`)."""
    from asgiref.sync import async_to_sync

    from webapp.chat import live

    async def read():
        client = live.async_client()
        try:
            return await live.logged_frames(client, turn_id)
        finally:
            await client.aclose()
    return async_to_sync(read)()


def make_turn(settings=None, status="queued", **fields):
    """ada's "What is 12 * 34?" at high effort, in a new conversation."""
    from django.contrib.auth import get_user_model

    from webapp.chat.models import Conversation, Turn

    user, _ = get_user_model().objects.get_or_create(username="ada")
    conversation = Conversation.objects.create(user=user, title="t")
    return Turn.objects.create(conversation=conversation, request_id="r1", user_text="What is 12 * 34?",
                               effort="high", settings=settings or {}, status=status, **fields)


def merged(frames):
    """Frames with consecutive deltas of one message joined, `queue_position` dropped (a
    stored turn is no longer in a queue)."""
    out = []
    for f in frames:
        f = {k: v for k, v in f.items() if k != "queue_position"}
        if f["type"] == "message.delta" and out and out[-1]["type"] == "message.delta" \
                and out[-1]["index"] == f["index"]:
            out[-1] = {**out[-1], "text": out[-1]["text"] + f["text"]}
        else:
            out.append(f)
    return out


def turn_compare(**overrides) -> dict:
    """A valid turn.compare frame for a new prompt (docs/protocol.md), with `overrides`."""
    return {"type": "turn.compare", "request_id": "c1", "conversation_id": None,
            "text": "What is 12 * 34?", **overrides}
