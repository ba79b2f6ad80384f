"""Validation of the frames a browser sends (docs/protocol.md, "Client → server").

Each function takes the decoded JSON object and returns plain values, or raises FrameError
whose code and message go back to the browser in an `error` frame.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from inference import harmony
from inference.tools import UnknownTool, registry

REQUEST_ID_CHARS = 100
CALL_ID_CHARS = 100
SETTINGS_KEYS = {"developer_instructions", "tools", "builtin_tools", "temperature", "top_p",
                 "max_output_tokens", "seed"}
TOOL_KEYS = {"name", "description", "parameters"}
# How deep a frame's JSON may nest (the frame itself is level 1; a tool's parameter schema
# needs a few levels). Deeper frames are refused before anything else reads them: json's own
# recursion limit (~1000) and jsonschema's would otherwise surface as internal errors.
MAX_DEPTH = 32
MAX_ID = 2**63 - 1  # ids are the database's 64-bit signed integers (BigAutoField)
MAX_SEED = 2**63 - 1
# what no stored text may hold: PostgreSQL's text and jsonb refuse NUL, and a lone surrogate
# cannot be encoded as UTF-8 by any database driver
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class FrameError(Exception):
    """A refused frame: the `error` frame's code and message, and for a refusal that lifts with
    time (a limit), `retry_after_s`: when to try again."""

    def __init__(self, code: str, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after_s = code, message, retry_after_s


def invalid(message: str) -> FrameError:
    return FrameError("invalid", message)


def cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value, limit: int = 40) -> str:
    """`value` for an error message: its repr, cut short (a frame may be 64 KiB of one key)."""
    return cut(repr(value), limit)


def unstorable(text: str) -> str | None:
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return "NUL (U+0000)" if found.group() == "\x00" else f"a lone surrogate (U+{ord(found.group()):04X})"


def parse(text: str) -> dict:
    """A client frame's text as a JSON object, or a FrameError (bad_json, too_deep, bad_frame).
    `check_tree` then looks at what it holds."""
    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        frame = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise FrameError("too_deep", f"the frame nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise FrameError("bad_json", f"the frame is not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise FrameError("bad_frame", "a frame is a JSON object with a `type`")
    return frame


def check_tree(frame: dict) -> None:
    """The frame nests at most MAX_DEPTH levels and every string in it, keys included, can be
    stored (too_deep, invalid): one iterative walk over the whole frame."""
    pending = [(frame, "frame", 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_DEPTH:
            raise FrameError("too_deep", f"the frame nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for name, item in value.items():
                problem = unstorable(name)
                if problem:
                    raise invalid(f"a key of {path} contains {problem}, which cannot be stored")
                name = cut(name)
                pending.append((item, name if path == "frame" else f"{path}.{name}", depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = unstorable(value)
            if problem:
                raise invalid(f"{cut(path, 120)} contains {problem}, which cannot be stored")


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
    if not is_int(value) or not 1 <= value <= MAX_ID:
        raise invalid(f"{name} must be an integer from 1 to 2^63-1, got {shown(value)}")
    return value


def text_of(frame: dict, name: str, max_chars: int, allow_empty: bool = False) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string, got {type(value).__name__}")
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
    out = {  # null stands for the default of these three; a value of another type is refused
        "developer_instructions": raw.get("developer_instructions"),
        "tools": raw.get("tools"),
        # absent: every built-in tool, as the chat page and the CLI start; [] turns them off
        "builtin_tools": raw["builtin_tools"] if "builtin_tools" in raw else registry.names(),
        "temperature": raw.get("temperature", defaults.temperature),
        "top_p": raw.get("top_p", defaults.top_p),
        "max_output_tokens": raw.get("max_output_tokens", min(defaults.max_output_tokens,
                                                              max_output_tokens)),
        "seed": raw.get("seed"),
    }
    if out["developer_instructions"] is None:
        out["developer_instructions"] = ""
    out["tools"] = function_tools([] if out["tools"] is None else out["tools"])
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
    if out["seed"] is not None and (not is_int(out["seed"]) or not 0 <= out["seed"] <= MAX_SEED):
        raise invalid("settings.seed must be an integer from 0 to 2^63-1, or null")
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


@dataclass
class CompareRequest:
    """turn.compare: either a new prompt (`text`, `settings`, `conversation_id` or None) or
    an earlier turn's (`turn_id`), to be run at every effort."""
    request_id: str
    conversation_id: int | None = None
    text: str | None = None
    settings: dict = field(default_factory=dict)
    turn_id: int | None = None


def request_id_of(frame: dict) -> str:
    request_id = frame.get("request_id", "")
    if not isinstance(request_id, str) or len(request_id) > REQUEST_ID_CHARS:
        raise invalid(f"request_id must be a string of at most {REQUEST_ID_CHARS} characters")
    return request_id


def turn_compare(frame: dict, *, max_text_chars: int, max_output_tokens: int) -> CompareRequest:
    request_id = request_id_of(frame)
    turn_id = positive_id(frame, "turn_id", optional=True)
    if turn_id is not None:
        extra = sorted({"conversation_id", "text", "settings", "effort"} & set(frame))
        if extra:  # the earlier turn's are used: a second source would be ambiguous
            raise invalid(f"turn.compare with turn_id takes the turn's own text and settings; "
                          f"drop {', '.join(extra)}")
        return CompareRequest(request_id=request_id, turn_id=turn_id)
    if "text" not in frame:
        raise invalid("turn.compare needs text (a new prompt) or turn_id (an earlier turn's)")
    if "effort" in frame:
        raise invalid("turn.compare runs every effort; drop effort")
    return CompareRequest(
        request_id=request_id,
        conversation_id=positive_id(frame, "conversation_id", optional=True),
        text=text_of(frame, "text", max_text_chars),
        settings=turn_settings(frame.get("settings"), max_output_tokens=max_output_tokens,
                               max_text_chars=max_text_chars),
    )


def turn_create(frame: dict, *, max_text_chars: int, max_output_tokens: int) -> TurnRequest:
    request_id = request_id_of(frame)
    effort = frame.get("effort")
    if effort not in harmony.EFFORTS:
        raise invalid(f"effort must be one of {', '.join(harmony.EFFORTS)}, got {shown(effort)}")
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
