"""Harmony conformance lint of one stored turn: what the model wrote that harmony does not
allow, even where the parser recovered it (docs/harmony-parsing.md).

`lint_turn` reads a turn's messages (anything with role, author, channel, recipient,
content_type, text and token_ids: the parser's `ParsedMessage`, the web app's stored
`Message`), the tools the turn declared and how it ended, and returns findings
`{"code", "message", "index"}` (`index`: the message's, or None for the turn as a whole).
No finding means the turn is clean. The token ids matter: the parser moves a function call
off the analysis channel and drops a stray stop token, so what the model actually wrote is
read from them; a message stored without ids is checked on its stored fields alone.

The checks and their codes (stable: stored, filtered on and charted):

- `unparsed_text`: text outside messages, i.e. a message on the parser's `unparsed` channel.
- `call_on_analysis`: a `functions.*` call whose header names the analysis channel (harmony
  puts function calls on commentary; built-in tools such as python belong on analysis).
- `malformed_header`: an assistant message whose tokens lack `<|message|>`, or hold
  `<|start|>` twice.
- `bad_recipient`: a recipient not written as its own `to=NAME` word in the header (glued to
  the channel, a bare name, a tool name in the role's place), or not the form of any tool
  (`functions.NAME` or a built-in system tool's bare name).
- `unknown_tool`: a well-formed recipient that names no tool the turn declared.
- `bad_content_type`: a content type other than JSON (`<|constrain|>json`, or harmony's bare
  `json`) on a function call, other than `code` on a system tool's call, or any content type
  except JSON on a message to nobody (structured output).
- `invalid_json`: a function call whose text is not a JSON object.
- `arguments_mismatch`: a function call's JSON arguments that the declared parameters schema
  refuses.
- `no_final`: no assistant message on the final channel, unless the turn was cancelled,
  paused on a call, or failed for a reason outside the model (any error but
  `harmony_parse`). A turn that ran out of tokens is flagged: it gave no answer.
- `reasoning_in_final`: a final message whose text holds harmony markup (any special token
  written out, e.g. `<|channel|>`), starts with a channel name glued to the next word
  (`analysisWe need…`, what a reply looks like when the special tokens were stripped), or
  restates an analysis message of the turn verbatim (one of at least
  REASONING_RESTATED_CHARS characters, whitespace aside).
- `missing_stop`: the turn's last generated message (its last assistant message) does not
  end with `<|return|>` or `<|call|>`, unless the turn was cut off from outside: cancelled,
  out of tokens (`length`) or failed for a reason other than `harmony_parse`. A `<|return|>`
  after a message closed with `<|end|>` is outside every message, so it does not count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from . import harmony
from .parser import UNPARSED
from .tools import UnknownTool, registry
from .tools import python as python_tool

CODES = ("unparsed_text", "call_on_analysis", "malformed_header", "bad_recipient",
         "unknown_tool", "bad_content_type", "invalid_json", "arguments_mismatch", "no_final",
         "reasoning_in_final", "missing_stop")
FUNCTIONS = "functions."
JSON_TYPES = ("json", "<|constrain|>json")
CODE_TYPE = "code"
REASONING_RESTATED_CHARS = 40
# Error codes of a failed turn that the model's own output caused; any other failure was
# an interruption from outside (engine, worker, queue), which excuses a missing end.
MODEL_FAILURES = ("harmony_parse",)
MARKUP = tuple(harmony.SPECIAL_NAMES.values())
GLUED_CHANNEL = re.compile(r"\s*(analysis|commentary|final)(?=[A-Z])")
TOOL_NAME = re.compile(r"[A-Za-z_][\w\-]*")


@dataclass
class Declared:
    """The tools a turn could call: function tools by name (their parameters schema, or None)
    and the system tools (python), addressed by their bare names."""

    functions: dict[str, dict | None] = field(default_factory=dict)
    system: set[str] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: harmony.TurnSettings) -> Declared:
        """What the turn declared. A built-in tool is taken by its declaration where this
        process knows it; python is a system tool even where it is switched off here."""
        declared = cls({t.name: t.parameters for t in settings.tools})
        for name in settings.builtin_tools:
            try:
                tool = registry.get(name).declaration()
            except UnknownTool:
                if name == python_tool.NAME:
                    declared.system.add(name)
                continue
            if isinstance(tool, harmony.SystemTool):
                declared.system.add(tool.name)
            else:
                declared.functions.setdefault(tool.name, tool.parameters)
        return declared


def finding(code: str, message: str, index: int | None) -> dict:
    return {"code": code, "message": message, "index": index}


def header_text(message) -> str | None:
    """The header the model wrote for `message` (special tokens written out), from its token
    ids: everything before `<|message|>`, or, with none, before the body text. None without ids."""
    if not message.token_ids:
        return None
    ids = list(message.token_ids)
    if harmony.MESSAGE in ids:
        return harmony.decode(ids[: ids.index(harmony.MESSAGE)])
    written = harmony.decode(ids)
    cut = written.rfind(message.text) if message.text else -1
    return written[:cut] if cut >= 0 else written


def lint_turn(messages, declared: Declared, status: str, error_code: str | None = None) -> list[dict]:
    """The findings of one turn (`status`: completed, cancelled, failed, length or awaiting;
    `error_code`: the code of its error, if any), in message order, turn-level ones last."""
    messages = sorted(messages, key=lambda m: m.index)
    found = []
    analysis = [m.text for m in messages if m.role == "assistant" and m.channel == "analysis"]
    for message in messages:
        if message.channel == UNPARSED:
            found.append(finding("unparsed_text", "text outside any harmony message: "
                                 f"{shorten(message.text)!r}", message.index))
            continue
        if message.role != "assistant":
            continue
        header = header_text(message)
        found += header_findings(message, header)
        if message.recipient:
            found += call_findings(message, header, declared)
        else:
            found += content_type_findings(message, None)
        if message.channel == "final":
            found += final_findings(message, analysis)
    found += ending_findings(messages, status, error_code)
    return found


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header_findings(message, header: str | None) -> list[dict]:
    if header is None:
        return []
    out = []
    if harmony.MESSAGE not in message.token_ids:
        out.append(finding("malformed_header", f"no <|message|> after the header {header.strip()!r}",
                           message.index))
    if list(message.token_ids).count(harmony.START) > 1:
        out.append(finding("malformed_header", "<|start|> written twice", message.index))
    return out


def call_findings(message, header: str | None, declared: Declared) -> list[dict]:
    recipient, index = message.recipient, message.index
    out = []
    header_channel = re.search(r"<\|channel\|>\s*(\w+?)(?=\s|to=|<\||$)", header or "")
    on_analysis = (header_channel.group(1) if header_channel else message.channel) == "analysis"
    if recipient.startswith(FUNCTIONS) and on_analysis:
        out.append(finding("call_on_analysis", f"call to {recipient} on the analysis channel "
                           "(function calls belong on commentary)", index))
    if header is not None and not re.search(rf"(?:^|(?<=\s))to={re.escape(recipient)}(?=\s|<\||$)",
                                            header):
        out.append(finding("bad_recipient", f"recipient {recipient} not written as 'to={recipient}' "
                           f"in the header {header.strip()!r}", index))
    name = recipient.removeprefix(FUNCTIONS)
    if not TOOL_NAME.fullmatch(name):
        out.append(finding("bad_recipient", f"recipient {recipient!r} is not a tool's name", index))
        return out
    if recipient.startswith(FUNCTIONS):
        if name not in declared.functions:
            out.append(finding("unknown_tool", f"{recipient} is not a declared function", index))
        out += content_type_findings(message, "function")
        out += argument_findings(message, declared.functions.get(name))
    elif name in declared.system:
        out += content_type_findings(message, "system")
    else:
        out.append(finding("unknown_tool", f"{recipient} is neither a declared function "
                           "(functions.NAME) nor a built-in tool of this turn", index))
    return out


def content_type_findings(message, call: str | None) -> list[dict]:
    """`call`: "function", "system", or None for a message to nobody."""
    ctype = message.content_type
    if ctype is None or (ctype in JSON_TYPES and call != "system") or (call, ctype) == ("system", CODE_TYPE):
        return []
    expected = {"function": "JSON", "system": "code", None: "none, or JSON"}[call]
    return [finding("bad_content_type", f"content type {ctype!r} (expected {expected})", message.index)]


def argument_findings(message, schema: dict | None) -> list[dict]:
    if message.token_ids and message.token_ids[-1] not in harmony.STOP_TOKENS + (harmony.END,):
        return []  # cut off before its end: never called, and the ending says why
    text = message.text
    try:
        arguments = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return [finding("invalid_json", f"arguments are not valid JSON ({exc.msg} at character "
                        f"{exc.pos}): {shorten(text)!r}", message.index)]
    if not isinstance(arguments, dict):
        return [finding("invalid_json", "arguments are JSON but not an object: "
                        f"{shorten(text)!r}", message.index)]
    if schema is None:
        return []
    error = best_match(Draft202012Validator(schema).iter_errors(arguments))
    if error is None:
        return []
    return [finding("arguments_mismatch", f"arguments do not match the declared parameters at "
                    f"{error.json_path}: {error.message}", message.index)]


def final_findings(message, analysis: list[str]) -> list[dict]:
    text, index = message.text, message.index
    markup = sorted((token for token in MARKUP if token in text), key=text.index)
    if markup:
        return [finding("reasoning_in_final", f"harmony markup {', '.join(markup)} in the final "
                        "text", index)]
    glued = GLUED_CHANNEL.match(text)
    if glued:
        return [finding("reasoning_in_final", f"the final text starts with the channel name "
                        f"{glued.group(1)!r} glued to its first word", index)]
    final = " ".join(text.split())
    for thought in analysis:
        thought = " ".join(thought.split())
        if len(thought) >= REASONING_RESTATED_CHARS and thought in final:
            return [finding("reasoning_in_final", "the final text restates an analysis message "
                            f"verbatim: {shorten(thought)!r}", index)]
    return []


def ending_findings(messages, status: str, error_code: str | None) -> list[dict]:
    interrupted = status == "failed" and error_code not in MODEL_FAILURES
    out = []
    answered = any(m.role == "assistant" and m.channel == "final" for m in messages)
    if not answered and status not in ("cancelled", "awaiting") and not interrupted:
        out.append(finding("no_final", f"the turn ended {status} without a final message", None))
    generated = [m for m in messages if m.role == "assistant" and m.token_ids]
    if generated and status not in ("cancelled", "length") and not interrupted:
        last = generated[-1]
        if last.token_ids[-1] not in harmony.STOP_TOKENS:
            ended = harmony.SPECIAL_NAMES.get(last.token_ids[-1])
            ended = f"ends with {ended}" if ended else "has no end token"
            out.append(finding("missing_stop", f"the turn's last generated message {ended}, "
                               "not <|return|> or <|call|>", last.index))
    return out
