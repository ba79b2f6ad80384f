"""Plain factories shared by the web app's tests."""

# A developer's function tool as turn.create's settings declare it (no server-side code: the
# client answers its calls)
WEATHER_TOOL = {"name": "get_weather", "description": "Weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}


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
def usage_metrics(analysis=0, commentary=0, final=0, ttft_ms=None, tok_s=None, engine=None) -> dict:
    """A stored turn's metrics as far as the usage page reads them (`engine` left out where
    None, as in turns stored before it was recorded)."""
    metrics = {"tokens_by_channel": {"analysis": analysis, "commentary": commentary, "final": final},
               "output_tokens": analysis + commentary + final, "ttft_ms": ttft_ms,
               "decode_tokens_per_s": tok_s}
    return {**metrics, "engine": engine} if engine else metrics


def usage_turn(day, model, effort, metrics, status="completed", lint=None) -> dict:
    """A turn's fields for USAGE_TURNS, queued at 10:00 UTC on `day` (YYYY-MM-DD), with its
    conformance `lint` (None: not linted)."""
    return {"queued_at": f"{day}T10:00:00+00:00", "model": model, "effort": effort,
            "status": status, "metrics": metrics, "lint": lint}


def lint_finding(code, index=None) -> dict:
    """One stored conformance finding (inference/lint.py) of `code`, at message `index`."""
    return {"code": code, "index": index, "message": f"{code} (crafted)"}


# Turns of early March 2020 for the usage figures: in the range 2020-03-01 to 2020-03-05, four
# finished 20b turns and three nano ones (one stored before engines were recorded); a turn paused
# on a tool call (its metrics so far are stored; no sweeper ends it), one without metrics and one
# of February, which the figures leave out. Lint: of the 20b turns in range two have findings
# (one of them call_on_analysis twice), one is clean and the cancelled one was never linted; of
# the nano ones one is clean, one misses its stop token, the failed one was never linted.
USAGE_TURNS = [
    usage_turn("2020-03-02", "gpt-oss-20b", "high", usage_metrics(100, 20, 50, 200.0, 50.0, "vllm"),
               lint=[lint_finding("call_on_analysis", 1), lint_finding("no_final")]),
    usage_turn("2020-03-02", "gpt-oss-20b", "low", usage_metrics(10, 0, 30, 100.0, 70.0, "vllm"), lint=[]),
    usage_turn("2020-03-04", "gpt-oss-20b", "medium", usage_metrics(40, 5, 60, 900.0, 12.0, "transformers"),
               lint=[lint_finding("call_on_analysis", 1), lint_finding("call_on_analysis", 3)]),
    usage_turn("2020-03-04", "gpt-oss-nano", "low", usage_metrics(8, 0, 12, 30.0, 300.0, "transformers"), lint=[]),
    usage_turn("2020-03-04", "gpt-oss-nano", "medium", usage_metrics(6, 0, 10, 50.0, 200.0, "transformers"),
               lint=[lint_finding("missing_stop", 2)]),
    usage_turn("2020-03-04", "gpt-oss-20b", "high", usage_metrics(60, 0, 0, 400.0, 30.0, "vllm"), "cancelled"),
    usage_turn("2020-03-05", "gpt-oss-nano", "high", usage_metrics(), "failed"),
    usage_turn("2020-03-02", "gpt-oss-20b", "high", usage_metrics(999, 999, 999, 1.0, 1.0, "vllm"), "awaiting",
               lint=[lint_finding("bad_recipient", 0)]),
    usage_turn("2020-03-03", "gpt-oss-20b", "high", None, lint=[lint_finding("bad_recipient", 0)]),
    usage_turn("2020-02-29", "gpt-oss-20b", "low", usage_metrics(500, 0, 500, 5.0, 5.0, "vllm"),
               lint=[lint_finding("bad_recipient", 0)]),
]
# Their lint per model (usage_stats.lint_by_model) from 2020-03-01 to 2020-03-05.
USAGE_LINT = {"codes": ["call_on_analysis", "no_final", "missing_stop"], "rows": [
    {"model": "gpt-oss-20b", "turns": 4, "linted": 3, "flagged": 2, "counts": [2, 1, 0]},
    {"model": "gpt-oss-nano", "turns": 3, "linted": 2, "flagged": 1, "counts": [0, 0, 1]},
]}


def store_usage_turns(user):
    """USAGE_TURNS, each in a conversation of `user`."""
    return [stored_turn(user, **fields) for fields in USAGE_TURNS]


def full_prompts(rounds: list[dict]) -> list[list[int]]:
    """Each round's whole prompt from a token timeline's JSON (inference/timeline.py): the
    tokens it reuses from the round before, then those it lists."""
    prompts, context = [], []
    for r in rounds:
        listed = [t["id"] for s in r["spans"] if s["part"] == "prompt" for t in s["tokens"]]
        prompts.append(context[:r["reused"]] + listed)
        context = prompts[-1] + [t["id"] for s in r["spans"] if s["part"] == "completion"
                                 for t in s["tokens"]]
    return prompts
