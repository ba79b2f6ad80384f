"""Turns as post-training data (docs/training-data.md), framework-free.

A turn is exported as the conversation its last generation was given plus what the model
produced: harmony's system and developer messages (declared tools included), the history as
the product renders it (`harmony.visible_history`: earlier turns keep only their user
messages and finals, so earlier analysis is gone once a final was given, as harmony's own
`auto_drop_analysis` drops it), then the turn's user message and all its messages.

Two row forms: `harmony` rows carry that conversation as openai-harmony message dicts
(`Message.to_dict`); `tokens` rows carry harmony's rendering of it for training and a loss mask
that is 1 exactly on the tokens the assistant generated in the turn. `turn_from_messages`
reads a harmony row back into the renderer's settings and messages, refusing a row that
would not render back to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import harmony
from .harmony import Msg, RenderError, TurnSettings


@dataclass
class TokenRow:
    tokens: list[int]
    loss_mask: list[int]  # same length as tokens: 1 where the assistant generated the token


def conversation(messages: list[Msg], settings: TurnSettings) -> list:
    """openai-harmony Messages of a turn: `messages` are its history, its user message and its
    own messages (what `Turn.history()` gives, then the turn's)."""
    return harmony.harmony_messages(messages, settings)


def message_dicts(messages: list) -> list[dict]:
    return [m.to_dict() for m in messages]


def messages_from_dicts(dicts) -> list:
    """openai-harmony Messages of a row's `messages`; RenderError names the bad one."""
    import openai_harmony as oh

    if not isinstance(dicts, list) or not dicts:
        raise RenderError("`messages` must be a non-empty list of harmony message objects")
    out = []
    for i, d in enumerate(dicts):
        try:
            out.append(oh.Message.from_dict(d))
        except Exception as exc:  # pydantic's ValidationError, or a KeyError on a bad shape
            raise RenderError(f"message {i} is not a harmony message: {exc}") from None
    return out


def trained_positions(ids: list[int]) -> list[bool]:
    """True on every token the model itself emits in the last turn: from right after the
    `<|start|>assistant` that follows the last user message through the stop token, including
    the `<|start|>assistant` headers of the later messages it writes on its own (generation
    stops only at call/return). A tool result re-opens generation after it. Earlier turns'
    answers are context, not targets."""
    assistant, user = harmony.encode("assistant"), harmony.encode("user")
    assert len(assistant) == len(user) == 1, "role names must be single tokens"
    last_user = max(i for i in range(1, len(ids)) if ids[i] == user[0] and ids[i - 1] == harmony.START)
    marks, generating = [False] * len(ids), False
    for i in range(last_user, len(ids)):
        tok = ids[i]
        if generating:
            marks[i] = True
            if tok in harmony.STOP_TOKENS:
                generating = False
        elif tok == assistant[0] and ids[i - 1] == harmony.START:
            generating = True  # a prompt ends with `<|start|>assistant`; what follows is output
    return marks


def tokens_and_mask(messages: list, cut_off: bool = False) -> TokenRow:
    """harmony's training rendering of `messages` (a final as the last message ends with
    `<|return|>`, as the model emitted it) and its loss mask, 1 where `trained_positions` says
    the model generated the token. `cut_off`: the last message was never closed (the turn
    stopped mid-message), so its closing token is not the model's."""
    import openai_harmony as oh

    if not any(m.author.role == oh.Role.USER for m in messages):
        raise RenderError("a turn needs a user message")
    enc, config = harmony.encoding(), harmony.own_filtering()
    tokens = list(enc.render_conversation_for_training(oh.Conversation.from_messages(messages), config))
    mask = [int(trained) for trained in trained_positions(tokens)]
    if cut_off and messages[-1].author.role == oh.Role.ASSISTANT:
        mask[-1] = 0
    return TokenRow(tokens, mask)


def is_one(message, kind) -> bool:
    """The message holds exactly one content, of `kind`."""
    return len(message.content) == 1 and isinstance(message.content[0], kind)


def text_of(message, where: str) -> str:
    import openai_harmony as oh

    if not is_one(message, oh.TextContent):
        raise RenderError(f"{where} must have exactly one text content")
    return message.content[0].text


def settings_of(system, developer) -> TurnSettings:
    """The effort, date, built-in tools, instructions and function tools that the head
    messages declare; built-in function tools are those declared as this server declares them."""
    from .tools import registry

    content = system.content[0]
    settings = TurnSettings(
        effort=content.reasoning_effort.value.lower() if content.reasoning_effort else "medium",
        date=content.conversation_start_date,
        builtin_tools=[name for name in (content.tools or {})],
    )
    if developer is None:
        return settings
    content = developer.content[0]
    settings.developer_instructions = content.instructions or ""
    functions = (content.tools or {}).get("functions")
    builtin = {name: registry.get(name).declaration() for name in registry.names()}
    for tool in functions.tools if functions else []:
        declared = harmony.FunctionTool(tool.name, tool.description, tool.parameters)
        if builtin.get(tool.name) == declared and not settings.tools:  # built-ins render first
            settings.builtin_tools.append(tool.name)
        else:
            settings.tools.append(declared)
    return settings


def to_msg(message, where: str) -> Msg:
    role = message.author.role.value
    if role not in ("user", "assistant", "tool"):
        raise RenderError(f"{where} has role {role!r}: only the first two may be system and developer")
    return Msg(role=role, text=text_of(message, where), channel=message.channel,
               recipient=message.recipient, content_type=message.content_type,
               author=message.author.name if role == "tool" else None)


def turn_from_messages(dicts) -> tuple[TurnSettings, list[Msg]]:
    """A harmony row's `messages` as the renderer's settings and messages (history, the user
    message, the turn's messages). RenderError when the row is not what this server renders
    from them (a system message of another model identity, tools declared differently, earlier
    turns' analysis kept): importing it would change what the messages say."""
    import openai_harmony as oh

    from .tools import UnknownTool

    messages = messages_from_dicts(dicts)
    roles = [m.author.role for m in messages]
    if roles[0] != oh.Role.SYSTEM or not is_one(messages[0], oh.SystemContent):
        raise RenderError("message 0 must be the system message")
    developer = messages[1] if len(messages) > 1 and roles[1] == oh.Role.DEVELOPER else None
    if developer is not None and not is_one(developer, oh.DeveloperContent):
        raise RenderError("message 1, the developer message, must hold developer content")
    body_from = 2 if developer is not None else 1
    body = [to_msg(m, f"message {i}") for i, m in enumerate(messages) if i >= body_from]
    if not any(m.role == "user" for m in body):
        raise RenderError("a turn needs a user message")
    settings = settings_of(messages[0], developer)
    try:
        again = message_dicts(conversation(body, settings))
    except UnknownTool as exc:
        raise RenderError(exc.args[0]) from None
    given = message_dicts(messages)
    for i, (a, b) in enumerate(zip(given, again)):
        if a != b:
            raise RenderError(f"message {i} is not what this server renders from it: {a} became {b}")
    if len(given) != len(again):
        raise RenderError(f"{len(given)} messages render as {len(again)} (earlier turns keep only "
                          "user messages and finals)")
    return settings, body


def split_turn(body: list[Msg]) -> tuple[list[Msg], str, list[Msg]]:
    """History, the user's text and the turn's own messages of a body."""
    last_user = max(i for i, m in enumerate(body) if m.role == "user")
    return body[:last_user], body[last_user].text, body[last_user + 1:]


def token_row(data, where: str) -> TokenRow:
    """A row of either form as tokens and mask: a tokens row as written; a harmony row rendered
    (a harmony row does not say whether its last message was cut off: its closing token is
    trained; export `--format tokens` for the exact mask)."""
    if not isinstance(data, dict):
        raise RenderError(f"{where}: a row must be a JSON object")
    if "tokens" in data:
        tokens, mask = data["tokens"], data.get("loss_mask")
        if not (isinstance(tokens, list) and isinstance(mask, list) and len(tokens) == len(mask)):
            raise RenderError(f"{where}: `tokens` and `loss_mask` must be lists of the same length")
        if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in tokens):
            raise RenderError(f"{where}: `tokens` must be token ids")
        if not all(m in (0, 1) and not isinstance(m, bool) for m in mask):
            raise RenderError(f"{where}: `loss_mask` must be 0s and 1s")
        return TokenRow(tokens, mask)
    if "messages" in data:
        try:
            return tokens_and_mask(messages_from_dicts(data["messages"]))
        except RenderError as exc:
            raise RenderError(f"{where}: {exc}") from None
    raise RenderError(f"{where}: neither a tokens row nor a harmony row")


def read_token_rows(path) -> list[TokenRow]:
    """Every row of a JSONL file as tokens and mask; RenderError names the first bad line."""
    import json

    rows = []
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RenderError(f"{path} line {number}: not JSON ({exc})") from None
            rows.append(token_row(data, f"{path} line {number}"))
    return rows
