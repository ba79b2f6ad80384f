"""Rendering conversations into harmony token ids with openai-harmony, offline.

The conversation model here is deliberately plain (`Msg`, `TurnSettings`) so that the CLI,
the web app's database rows and the nano model's data generator all build the same thing.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from . import vocab

EFFORTS = ("low", "medium", "high")

# Special token ids of o200k_harmony (fixed by the encoding).
START, END, MESSAGE, CHANNEL, CONSTRAIN = 200006, 200007, 200008, 200005, 200003
RETURN, CALL = 200002, 200012
STOP_TOKENS = (RETURN, CALL)
SPECIAL_NAMES = {
    START: "<|start|>", END: "<|end|>", MESSAGE: "<|message|>", CHANNEL: "<|channel|>",
    CONSTRAIN: "<|constrain|>", RETURN: "<|return|>", CALL: "<|call|>",
}

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class RenderError(ValueError):
    """The conversation or its settings cannot be rendered; the message says why."""


@dataclass
class Msg:
    """One harmony message. `author` names a tool for role `tool` (`functions.calculator`)."""

    role: str
    text: str
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None
    author: str | None = None


@dataclass
class FunctionTool:
    name: str
    description: str = ""
    parameters: dict[str, Any] | None = None


@dataclass
class SystemTool:
    """One of gpt-oss's own built-in tools (python), declared as a namespace in the system
    message, called by its bare name with the message's text as its input."""

    name: str
    description: str


@dataclass
class TurnSettings:
    effort: str = "medium"
    developer_instructions: str = ""
    tools: list[FunctionTool] = field(default_factory=list)
    builtin_tools: list[str] = field(default_factory=list)
    temperature: float = 0.0
    top_p: float = 1.0
    max_output_tokens: int = 1024
    seed: int | None = None
    date: str | None = None  # conversation start date, YYYY-MM-DD; today if unset


def own_filtering():
    """harmony's auto_drop_analysis, off: `visible_history` applies the multi-turn rule."""
    import openai_harmony as oh

    return oh.RenderConversationConfig(auto_drop_analysis=False)


@functools.lru_cache(maxsize=1)
def encoding():
    vocab.ensure_vocab("o200k_base")
    import openai_harmony as oh

    return oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)


def validate_schema(schema: Any, where: str) -> None:
    """A declared JSON schema must be an object that its metaschema (JSON Schema 2020-12)
    accepts, and name every property it requires."""
    if not isinstance(schema, dict):
        raise RenderError(f"{where}: a JSON schema must be an object, got {type(schema).__name__}")
    error = best_match(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema))
    if error is not None:
        at = error.json_path
        while error.context:  # "not valid under any of the given schemas": the closest one
            error = best_match(error.context)
        raise RenderError(f"{where} at {at}: {error.message}")
    check_required_declared(schema, where)


def check_required_declared(schema: Any, where: str) -> None:
    """What the metaschema allows but a function's parameters cannot mean: a required property
    that is not declared (harmony renders only the declared ones)."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if name not in properties]
    if missing:
        raise RenderError(f"{where}: required properties not declared: {', '.join(missing)}")
    for name, sub in properties.items():
        check_required_declared(sub, f"{where}.{name}")
    check_required_declared(schema.get("items"), f"{where}[]")


def validate_tool(tool: FunctionTool) -> None:
    if not tool.name or not set(tool.name) <= NAME_CHARS or tool.name[0].isdigit():
        raise RenderError(
            f"tool name {tool.name!r} must be letters, digits and '_' and not start with a digit"
        )
    if tool.parameters is not None:
        validate_schema(tool.parameters, f"tool {tool.name} parameters")
        if tool.parameters.get("type", "object") != "object":
            raise RenderError(f"tool {tool.name}: parameters must be a JSON schema of type object")


def builtin_declarations(settings: TurnSettings) -> list:
    """The declarations of the enabled built-in tools (UnknownTool for one that is not here)."""
    from .tools import registry

    return [registry.get(name).declaration() for name in settings.builtin_tools]


def declared_tools(settings: TurnSettings) -> list[FunctionTool]:
    """The function tools: enabled built-in ones first, then the builder's; names must be
    unique. The built-in system tools (python) are checked here too, and left out."""
    builtin = builtin_declarations(settings)
    tools = [t for t in builtin if isinstance(t, FunctionTool)] + settings.tools
    seen: set[str] = set()
    for tool in tools:
        validate_tool(tool)
        if tool.name in seen:
            raise RenderError(f"tool {tool.name!r} is declared twice")
        seen.add(tool.name)
    system = [t.name for t in builtin if isinstance(t, SystemTool)]
    twice = sorted({name for name in system if system.count(name) > 1})
    if twice:
        raise RenderError(f"built-in tool {twice[0]!r} is declared twice")
    return tools


def system_tools(settings: TurnSettings) -> list[SystemTool]:
    """The enabled built-in tools declared in the system message (python)."""
    return [t for t in builtin_declarations(settings) if isinstance(t, SystemTool)]


def system_message(settings: TurnSettings):
    import openai_harmony as oh

    if settings.effort not in EFFORTS:
        raise RenderError(f"effort must be one of {', '.join(EFFORTS)}, got {settings.effort!r}")
    date = settings.date or dt.date.today().isoformat()
    content = (
        oh.SystemContent.new()
        .with_reasoning_effort(oh.ReasoningEffort(settings.effort.capitalize()))
        .with_conversation_start_date(date)
    )
    for tool in system_tools(settings):  # as SystemContent.with_python_tool(), our own text
        content = content.with_tools(oh.ToolNamespaceConfig(name=tool.name, description=tool.description,
                                                            tools=[]))
    return oh.Message.from_role_and_content(oh.Role.SYSTEM, content)


def developer_message(settings: TurnSettings):
    """Instructions and function tools; the calculator and the clock are server-run functions
    too, called like the builder's (`functions.<name>` on the commentary channel). gpt-oss's
    own python tool is in the system message instead (`system_message`)."""
    import openai_harmony as oh

    tools = declared_tools(settings)
    if not tools and not settings.developer_instructions:
        return None
    content = oh.DeveloperContent.new()
    if settings.developer_instructions:
        content = content.with_instructions(settings.developer_instructions)
    if tools:
        content = content.with_function_tools(
            [oh.ToolDescription.new(t.name, t.description, parameters=t.parameters) for t in tools]
        )
    return oh.Message.from_role_and_content(oh.Role.DEVELOPER, content)


def visible_history(messages: list[Msg]) -> list[Msg]:
    """The multi-turn rule: before the last user message keep only user messages and final
    answers; after it keep everything (analysis and tool exchanges of the current turn)."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    kept = []
    for i, m in enumerate(messages):
        if i > last_user or m.role == "user" or (m.role == "assistant" and m.channel == "final"):
            kept.append(m)
    return kept


def to_harmony(msg: Msg):
    import openai_harmony as oh

    if msg.role == "tool":
        if not msg.author:
            raise RenderError("a tool message needs its author, e.g. 'functions.calculator'")
        out = oh.Message.from_author_and_content(oh.Author.new(oh.Role.TOOL, msg.author), msg.text)
    elif msg.role in ("user", "assistant"):
        out = oh.Message.from_role_and_content(oh.Role(msg.role), msg.text)
    else:
        raise RenderError(f"cannot render a history message with role {msg.role!r}")
    if msg.channel:
        out = out.with_channel(msg.channel)
    if msg.recipient:
        out = out.with_recipient(msg.recipient)
    if msg.content_type:
        out = out.with_content_type(msg.content_type)
    return out


def harmony_messages(messages: list[Msg], settings: TurnSettings) -> list:
    head = [system_message(settings)]
    dev = developer_message(settings)
    if dev is not None:
        head.append(dev)
    return head + [to_harmony(m) for m in visible_history(messages)]


def render_prompt(messages: list[Msg], settings: TurnSettings) -> list[int]:
    """Token ids of the prompt, ending with `<|start|>assistant` for the model to continue."""
    import openai_harmony as oh

    conv = oh.Conversation.from_messages(harmony_messages(messages, settings))
    return list(encoding().render_conversation_for_completion(conv, oh.Role.ASSISTANT, own_filtering()))


def render_training(messages: list[Msg], settings: TurnSettings) -> list[int]:
    """Token ids of a whole conversation whose last message is the assistant's final answer
    (rendered with `<|return|>`, as the model must emit it)."""
    import openai_harmony as oh

    conv = oh.Conversation.from_messages(harmony_messages(messages, settings))
    return list(encoding().render_conversation_for_training(conv, own_filtering()))


def decode(ids: list[int]) -> str:
    """Text of token ids, special tokens included; bytes that do not form UTF-8 are replaced."""
    return encoding().decode(list(ids))


def encode(text: str) -> list[int]:
    """Token ids of text, special tokens such as `<|start|>` recognised."""
    return list(encoding().encode(text, allowed_special="all"))
