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


# -- transcripts (export and import) ----------------------------------------------------------

LOOKUP_TOOL = {"name": "lookup", "description": "Looks a word up in the glossary.",
               "parameters": {"type": "object", "properties": {"word": {"type": "string"}},
                              "required": ["word"]}}
TRANSCRIPT_SETTINGS = {"developer_instructions": "Answer briefly.", "tools": [LOOKUP_TOOL],
                       "builtin_tools": ["calculator"], "temperature": 0.7, "top_p": 0.9,
                       "max_output_tokens": 512, "seed": 7}
CALL = '{"expression": "2+2"}'
# Two user turns, the second with a tool round: (user text, the turn's messages as stored)
TWO_TURNS = [
    ("Hi", [{"role": "assistant", "channel": "analysis", "text": "Greet back."},
            {"role": "assistant", "channel": "final", "text": "Hello!"}]),
    ("What is 2+2?", [
        {"role": "assistant", "channel": "analysis", "text": "Use the calculator."},
        {"role": "assistant", "channel": "commentary", "recipient": "functions.calculator",
         "content_type": "<|constrain|>json", "text": CALL},
        {"role": "tool", "author": "functions.calculator", "channel": "commentary",
         "recipient": "assistant", "text": "4"},
        {"role": "assistant", "channel": "final", "text": "It is 4."}]),
]


def transcript_settings(date="2026-03-01"):
    """TRANSCRIPT_SETTINGS at low effort as the renderer takes them."""
    from webapp.chat.frames import harmony_settings

    return harmony_settings("low", TRANSCRIPT_SETTINGS, date)


def two_turn_messages():
    """TWO_TURNS as the renderer's messages: both user messages and every stored message."""
    from inference.harmony import Msg

    out = []
    for user_text, messages in TWO_TURNS:
        out.append(Msg(role="user", text=user_text))
        out += [Msg(**m) for m in messages]
    return out


def stored_conversation(user, turns=TWO_TURNS, title="Sums", started="2026-03-01", **fields):
    """A conversation of `user` started on `started` with `turns` completed at low effort
    (TRANSCRIPT_SETTINGS), model gpt-oss-nano unless `fields` say otherwise; its turns."""
    import datetime as dt

    from webapp.chat.models import Conversation, Message, Turn

    created = dt.datetime.combine(dt.date.fromisoformat(started), dt.time(9), dt.timezone.utc)
    conversation = Conversation.objects.create(user=user, title=title, created_at=created)
    fields = {"effort": "low", "status": "completed", "model": "gpt-oss-nano",
              "settings": TRANSCRIPT_SETTINGS, **fields}
    stored = []
    for user_text, messages in turns:
        turn = Turn.objects.create(conversation=conversation, user_text=user_text, **fields)
        for i, m in enumerate(messages):
            Message.objects.create(turn=turn, index=i, **m)
        stored.append(turn)
    return stored


def turn_compare(**overrides) -> dict:
    """A valid turn.compare frame for a new prompt (docs/protocol.md), with `overrides`."""
    return {"type": "turn.compare", "request_id": "c1", "conversation_id": None,
            "text": "What is 12 * 34?", **overrides}
