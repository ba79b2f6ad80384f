"""Validation of the frames a browser sends (docs/protocol.md, "Client → server").

Each function takes the decoded JSON object and returns plain values, or raises FrameError
whose code and message go back to the browser in an `error` frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference import harmony
from inference.tools import UnknownTool, registry

REQUEST_ID_CHARS = 100
CALL_ID_CHARS = 100
SETTINGS_KEYS = {"developer_instructions", "tools", "builtin_tools", "temperature", "top_p",
                 "max_output_tokens", "seed"}
TOOL_KEYS = {"name", "description", "parameters"}


class FrameError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> FrameError:
    return FrameError("invalid", message)


@dataclass
class TurnRequest:
    request_id: str
    conversation_id: int | None
    text: str
    effort: str
    settings: dict = field(default_factory=dict)
    regenerated_from: int | None = None


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_id(frame: dict, name: str, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if not is_int(value) or value < 1:
        raise invalid(f"{name} must be a positive integer")
    return value


def text_of(frame: dict, name: str, max_chars: int, allow_empty: bool = False) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if not allow_empty and not value.strip():
        raise invalid(f"{name} must not be empty")
    if len(value) > max_chars:
        raise invalid(f"{name} has {len(value)} characters; the limit is {max_chars}")
    return value


def function_tools(raw) -> list[dict]:
    if not isinstance(raw, list):
        raise invalid("settings.tools must be a list of function tools")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid(f"settings.tools[{i}] must be an object with a name")
        unknown = set(tool) - TOOL_KEYS
        if unknown:
            raise invalid(f"settings.tools[{i}] has unknown keys: {', '.join(sorted(unknown))}")
        description = tool.get("description", "")
        if not isinstance(description, str):
            raise invalid(f"settings.tools[{i}].description must be a string")
        tools.append({"name": tool["name"], "description": description,
                      "parameters": tool.get("parameters")})
    return tools


def turn_settings(raw, *, max_output_tokens: int, max_text_chars: int) -> dict:
    """The `settings` of turn.create, checked and with defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid("settings must be an object")
    unknown = set(raw) - SETTINGS_KEYS
    if unknown:
        raise invalid(f"settings has unknown keys: {', '.join(sorted(unknown))}")
    defaults = harmony.TurnSettings()
    out = {
        "developer_instructions": raw.get("developer_instructions") or "",
        "tools": function_tools(raw.get("tools") or []),
        # absent: every built-in tool, as the chat page and the CLI start; [] turns them off
        "builtin_tools": raw["builtin_tools"] if "builtin_tools" in raw else registry.names(),
        "temperature": raw.get("temperature", defaults.temperature),
        "top_p": raw.get("top_p", defaults.top_p),
        "max_output_tokens": raw.get("max_output_tokens", min(defaults.max_output_tokens,
                                                              max_output_tokens)),
        "seed": raw.get("seed"),
    }
    if not isinstance(out["developer_instructions"], str):
        raise invalid("settings.developer_instructions must be a string")
    if len(out["developer_instructions"]) > max_text_chars:
        raise invalid(f"settings.developer_instructions is longer than {max_text_chars} characters")
    builtin = out["builtin_tools"]
    if not isinstance(builtin, list) or not all(isinstance(n, str) for n in builtin):
        raise invalid("settings.builtin_tools must be a list of tool names")
    if not is_number(out["temperature"]) or not 0 <= out["temperature"] <= 2:
        raise invalid("settings.temperature must be a number from 0 to 2")
    if not is_number(out["top_p"]) or not 0 < out["top_p"] <= 1:
        raise invalid("settings.top_p must be a number in (0, 1]")
    if not is_int(out["max_output_tokens"]) or not 1 <= out["max_output_tokens"] <= max_output_tokens:
        raise invalid(f"settings.max_output_tokens must be an integer from 1 to {max_output_tokens}")
    if out["seed"] is not None and not is_int(out["seed"]):
        raise invalid("settings.seed must be an integer or null")
    try:  # the same checks the renderer makes: names, JSON schemas, known built-ins, no twins
        harmony.declared_tools(harmony_settings("medium", out))
    except (harmony.RenderError, UnknownTool) as exc:
        raise invalid(exc.args[0] if exc.args else str(exc)) from None
    return out


def harmony_settings(effort: str, settings: dict, date: str | None = None) -> harmony.TurnSettings:
    """A stored turn's effort and settings as the renderer's TurnSettings."""
    return harmony.TurnSettings(
        effort=effort,
        developer_instructions=settings.get("developer_instructions", ""),
        tools=[harmony.FunctionTool(t["name"], t.get("description", ""), t.get("parameters"))
               for t in settings.get("tools", [])],
        builtin_tools=list(settings.get("builtin_tools", [])),
        temperature=settings.get("temperature", 0.0),
        top_p=settings.get("top_p", 1.0),
        max_output_tokens=settings.get("max_output_tokens", 1024),
        seed=settings.get("seed"),
        date=date,
    )


def turn_create(frame: dict, *, max_text_chars: int, max_output_tokens: int) -> TurnRequest:
    request_id = frame.get("request_id", "")
    if not isinstance(request_id, str) or len(request_id) > REQUEST_ID_CHARS:
        raise invalid(f"request_id must be a string of at most {REQUEST_ID_CHARS} characters")
    effort = frame.get("effort")
    if effort not in harmony.EFFORTS:
        raise invalid(f"effort must be one of {', '.join(harmony.EFFORTS)}, got {effort!r}")
    return TurnRequest(
        request_id=request_id,
        conversation_id=positive_id(frame, "conversation_id", optional=True),
        text=text_of(frame, "text", max_text_chars),
        effort=effort,
        settings=turn_settings(frame.get("settings"), max_output_tokens=max_output_tokens,
                               max_text_chars=max_text_chars),
        regenerated_from=positive_id(frame, "regenerated_from", optional=True),
    )


def tool_output(frame: dict, *, max_chars: int) -> tuple[int, str, str]:
    turn_id = positive_id(frame, "turn_id")
    call_id = text_of(frame, "call_id", CALL_ID_CHARS)
    output = text_of(frame, "output", max_chars, allow_empty=True)
    return turn_id, call_id, output
