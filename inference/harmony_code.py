"""A turn's prompt as a short, runnable Python snippet that builds the same conversation with
openai-harmony alone and renders it ("Copy as code").

The snippet writes out what `harmony.harmony_messages` builds (the system message with the
effort and the date, the developer message with the instructions and the function tools, the
visible messages) as literals, and renders it the way `harmony.render_prompt` does, so that it
gives exactly the token ids the model was given (tests/test_harmony_code.py runs it).
"""

from __future__ import annotations

import importlib.metadata

from . import harmony

INDENT = " " * 4


def system_code(settings: harmony.TurnSettings) -> str:
    lines = ["system = (SystemContent.new()",
             f"          .with_reasoning_effort(ReasoningEffort.{settings.effort.upper()})",
             f"          .with_conversation_start_date({settings.date!r})"]
    for tool in harmony.system_tools(settings):
        lines.append(f"          .with_tools(ToolNamespaceConfig(name={tool.name!r}, "
                     f"description={tool.description!r}, tools=[]))")
    return "\n".join(lines) + ")"


def developer_code(settings: harmony.TurnSettings) -> str | None:
    tools = harmony.declared_tools(settings)
    if not tools and not settings.developer_instructions:
        return None
    lines = ["developer = (DeveloperContent.new()"]
    if settings.developer_instructions:
        lines.append(f"             .with_instructions({settings.developer_instructions!r})")
    if tools:
        lines.append("             .with_function_tools([")
        for tool in tools:
            parameters = "" if tool.parameters is None else f", parameters={tool.parameters!r}"
            lines.append(f"                 ToolDescription.new({tool.name!r}, "
                         f"{tool.description!r}{parameters}),")
        lines.append("             ])")
    return "\n".join(lines) + ")"


def message_code(msg: harmony.Msg) -> str:
    if msg.role == "tool":
        code = (f"Message.from_author_and_content(Author.new(Role.TOOL, {msg.author!r}), "
                f"{msg.text!r})")
    else:
        code = f"Message.from_role_and_content(Role.{msg.role.upper()}, {msg.text!r})"
    for name, value in (("channel", msg.channel), ("recipient", msg.recipient),
                        ("content_type", msg.content_type)):
        if value:
            code += f".with_{name}({value!r})"
    return code


def python_snippet(conversation: list[harmony.Msg], settings: harmony.TurnSettings,
                   title: str) -> str:
    """Code that renders `conversation` (history, the user's message, then the turn's messages
    given to its last generation) under `settings` to the ids `harmony.render_prompt` gives.
    `settings.date` must be set: the rendering depends on it. `title`: its first comment."""
    if not settings.date:
        raise ValueError("the snippet needs the date the prompt was rendered with")
    developer = developer_code(settings)
    head = ["Message.from_role_and_content(Role.SYSTEM, system),"]
    if developer:
        head.append("Message.from_role_and_content(Role.DEVELOPER, developer),")
    body = head + [message_code(m) + "," for m in harmony.visible_history(conversation)]
    version = importlib.metadata.version("openai-harmony")
    return "\n".join([
        f"# {title}",
        f"# pip install openai-harmony=={version}  (its first use downloads the o200k vocabulary)",
        "from openai_harmony import (Author, Conversation, DeveloperContent, HarmonyEncodingName,",
        "                            Message, ReasoningEffort, RenderConversationConfig, Role,",
        "                            SystemContent, ToolDescription, ToolNamespaceConfig,",
        "                            load_harmony_encoding)",
        "",
        system_code(settings),
        *([developer] if developer else []),
        "messages = [",
        *(INDENT + line for line in body),
        "]",
        "",
        "encoding = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)",
        "tokens = encoding.render_conversation_for_completion(",
        "    Conversation.from_messages(messages), Role.ASSISTANT,",
        "    RenderConversationConfig(auto_drop_analysis=False))",
        "print(encoding.decode(tokens))",
        "",
    ])
