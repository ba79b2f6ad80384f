"""Token ids of one generation → `message.start` / `message.delta` / `message.end` frames.

A tolerant, lossless streaming parser of gpt-oss harmony output. It works on token ids
(a state machine over `<|start|>`, `<|channel|>`, `<|constrain|>`, `<|message|>`, `<|end|>`,
`<|call|>`, `<|return|>`), decodes text bytes incrementally so a character split across
tokens is never broken, and reads each header from its text so that recipients written in
odd places, glued words and a missing `<|message|>` are understood. The recovery rules are
in docs/harmony-parsing.md; in short:

- `notes`: output that was malformed but placed with certainty (recipient in an odd place,
  a function call on the analysis channel, missing `<|message|>` / `<|start|>` / `<|end|>`,
  stray stop tokens, a generation cut off mid-message). The turn goes on.
- `problems`: text that could not be placed. It is still emitted, in a message whose channel
  is `unparsed`, and the turn must end `failed` with `harmony_parse`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from . import events, harmony, vocab
from .events import CHANNELS
from .harmony import CALL, CHANNEL, CONSTRAIN, END, MESSAGE, RETURN, SPECIAL_NAMES, START

ROLES = ("assistant", "user", "system", "developer", "tool")
UNPARSED = "unparsed"
# Bare content-type words a header may carry (`commentary json`); anything after
# `<|constrain|>` is a content type too.
CONTENT_TYPE_WORDS = ("json", "code", "text", "markdown")
# Characters a header word can be made of; the first other character starts a body
# (`json{"a": 1}` is a content type glued to its body).
HEADER_WORD = re.compile(r"[A-Za-z0-9_.\-=/]*")
NAME = re.compile(r"[A-Za-z_][\w\-]*(?:\.[\w\-]+)*")
DOTTED_NAME = re.compile(r"[A-Za-z_][\w\-]*\.[\w\-]+(?:\.[\w\-]+)*")
# A header that runs this long without `<|message|>` and without a body word is not a header.
MAX_HEADER_TOKENS = 64
FIRST_SPECIAL_ID = 199998  # o200k_harmony: every id from here on is a special token


@dataclass
class ParsedMessage:
    index: int
    role: str
    channel: str | None
    recipient: str | None
    content_type: str | None
    author: str | None = None  # the tool's name for role `tool`; None for the assistant
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    terminator: int | None = None  # END, CALL or RETURN; None when cut off or interrupted

    def to_msg(self) -> harmony.Msg:
        return harmony.Msg(role=self.role, text=self.text, channel=self.channel,
                           recipient=self.recipient, content_type=self.content_type,
                           author=self.author)


@dataclass
class Header:
    """What a header's text says, read by `read_header`."""

    role: str | None = None
    author: str | None = None
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None
    body: str | None = None  # text found where the header should have ended; None: none yet
    notes: list[str] = field(default_factory=list)


def split_word(word: str, kind: str, first: bool) -> list[tuple[str, str]] | None:
    """Read one whitespace-free run of header characters as header items, allowing glued
    items (`commentaryto=functions.x`, `assistantfunctions.x`); None if it is not a header."""
    items, rest = [], word
    while rest:
        item = next_item(rest, kind, first)
        if item is None:
            return None
        (field_name, value), used = item
        items.append((field_name, value))
        rest = rest[used:]
        first = False
    return items


def next_item(rest: str, kind: str, first: bool) -> tuple[tuple[str, str], int] | None:
    """The header item at the start of `rest` and how many characters it used."""
    def starting(names):
        return next((n for n in names if rest.startswith(n)), None)

    if first and kind == "role" and starting(ROLES):
        return ("role", starting(ROLES)), len(starting(ROLES))
    if first and kind == "channel" and not rest.startswith("to="):
        name = starting(CHANNELS) or getattr(re.match(r"[A-Za-z_][\w\-]*?(?=to=|$)", rest), "group", str)()
        return (("channel", name), len(name)) if name else None
    if first and kind == "constrain":
        ctype = starting(CONTENT_TYPE_WORDS) or getattr(re.match(r"[\w\-/.]+?(?=to=|$)", rest), "group", str)()
        return (("content_type", "<|constrain|>" + ctype), len(ctype)) if ctype else None
    if rest.startswith("to="):
        name = NAME.match(rest, 3)
        return ("recipient", name.group() if name else ""), 3 + (len(name.group()) if name else 0)
    dotted = DOTTED_NAME.match(rest)
    if dotted:
        return ("dotted", dotted.group()), len(dotted.group())
    if starting(CONTENT_TYPE_WORDS):
        return ("content_type", starting(CONTENT_TYPE_WORDS)), len(starting(CONTENT_TYPE_WORDS))
    return None


def read_header(segments: list[list[str]], mode: str, complete: bool,
                terminated: bool = False) -> Header | None:
    """Read a header from its segments ([kind, text]; kind `role`, `channel` or `constrain`,
    the special token that opened the segment). `mode` says how the message began:
    `implicit` (the prompt's `<|start|>assistant`), `start` (a `<|start|>` of its own) or
    `loose` (no `<|start|>`: after `<|end|>`, or a header token inside a body).
    Returns None while the last word may still grow (not `complete`) and nothing decided.

    Words that are only probably header (a bare `json`, a dotted name such as `e.g.`) are
    held back: if a body word follows them in the same segment, or the message ends
    (`terminated`) without `<|message|>`, they are given back to the body, so no text is
    lost to a guess."""
    head = Header(role="assistant" if mode == "implicit" else None)
    dotted: list[str] = []
    for s, (kind, text) in enumerate(segments):
        first = not (kind == "role" and mode == "implicit")
        held: list[tuple[str, str]] = []
        held_from = None  # offset in `text` of the first held word
        for m in re.finditer(r"\S+", text):
            word = m.group()
            header_part = HEADER_WORD.match(word).group()
            last_open = complete is False and s == len(segments) - 1 and m.end() == len(text)
            if last_open and header_part == word:
                return None  # the word may continue in the next token
            items = split_word(header_part, kind, first) if header_part else []
            if items is None and first and kind == "role" and mode == "start" and NAME.fullmatch(word):
                # `<|start|>bash<|channel|>…`: a word in the role's place names a tool
                items = [("dotted", word)]
                head.notes.append(f"unknown role {word!r} read as a tool name")
            first = False
            glued = items is not None and header_part != word
            if glued and (word[len(header_part)] in "{[\"" or any(
                    is_certain(item) and item[0] != "content_type" for item in items)):
                # header items glued to their body (`json{"a": 1}`): the body starts after them
                # (but `<|constrain|>write: text` is text, not a content type `write`)
                apply_items(head, dotted, held + items)
                body_from = m.start() + len(header_part)
            elif items is None or glued:  # a body word: held-back words belong to the body
                body_from = m.start() if held_from is None else held_from
            elif all(not is_certain(item) for item in items):
                held += items
                held_from = m.start() if held_from is None else held_from
                continue
            else:
                apply_items(head, dotted, held + items)
                held, held_from = [], None
                continue
            head.body = text[body_from:] + "".join(
                SPECIAL_NAMES[CHANNEL if k == "channel" else CONSTRAIN] + t for k, t in segments[s + 1:])
            return finish_header(head, dotted)
        if terminated and held_from is not None and s == len(segments) - 1:
            head.body = text[held_from:]
        else:
            apply_items(head, dotted, held)
    return finish_header(head, dotted)


def is_certain(item: tuple[str, str]) -> bool:
    """Whether a header item can only be header: bare content-type words and dotted names
    other than `functions.*` could be the first words of a body."""
    kind, value = item
    if kind == "dotted":
        return value.startswith("functions.")
    return not (kind == "content_type" and not value.startswith("<|constrain|>"))


def apply_items(head: Header, dotted: list[str], items: list[tuple[str, str]]) -> None:
    for field_name, value in items:
        if field_name == "dotted":
            dotted.append(value)
        elif field_name == "role" and head.role is None:
            head.role = value
        elif field_name == "channel":
            if head.channel and head.channel != value:
                head.notes.append(f"two channels in one header ({head.channel}, {value})")
            head.channel = value
        elif field_name == "recipient" and value:
            head.recipient = value
        elif field_name == "content_type":
            head.content_type = value


def finish_header(head: Header, dotted: list[str]) -> Header:
    """Settle role, author and recipient from the names found; a dotted name before a
    `to=` is a tool's authorship (`functions.x to=assistant`), otherwise a recipient."""
    if dotted:
        if head.role is None and head.recipient:
            head.role, head.author = "tool", dotted[0]
        elif head.recipient is None:
            head.recipient = dotted[0]
            head.notes.append(f"recipient {dotted[0]} written without 'to='")
    if head.role is None:
        head.role = "assistant"
    if head.role == "tool" and head.author is None:
        head.author = head.recipient
    return head


class HarmonyStream:
    """Feed the token ids of one generation; frames go to `emit` as they are decided.

    After `finish()`: `messages` (ParsedMessage, in order), `problems` (non-empty: the turn
    fails with `harmony_parse`), `notes` (malformed output that was recovered), `stop_token`
    (RETURN or CALL when the generation ended on one) and `next_index` (the index the next
    message of the turn takes). Each message's `token_ids` hold every token of it (header,
    body and terminator), so their counts add up to the tokens fed, less stray tokens
    outside any message.
    """

    def __init__(self, turn_id, emit, first_index=0):
        self.turn_id = turn_id
        self.emit = emit
        self.next_index = first_index
        self.messages: list[ParsedMessage] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.stop_token: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._bytes = vocab.token_bytes("o200k_base")
        self._current: ParsedMessage | None = None  # the message whose body is streaming
        self._pending_ids: list[int] = []  # tokens of the header being read
        self._new_header("implicit")

    # -- feeding --------------------------------------------------------------------------

    def feed(self, token_id: int) -> None:
        self.stop_token = token_id if token_id in (CALL, RETURN) else None
        if token_id < FIRST_SPECIAL_ID:
            self._text(self._decoder.decode(self._bytes.get(token_id, b"")), token_id)
            return
        self._text(self._decoder.decode(b"", final=True), None)  # a character cut by a special
        if self._current is not None:
            self._special_in_body(token_id)
        else:
            self._special_in_header(token_id)

    def finish(self) -> None:
        """Close whatever is open at the end of the generation."""
        self._text(self._decoder.decode(b"", final=True), None)
        if self._current is not None:
            self.notes.append(f"generation ended inside message {self._current.index}")
            self._close(None)
        elif self._segments_have_text():
            head = read_header(self._segments, self._mode, complete=True, terminated=True)
            if head.body:
                self._open(head, missing_message=True)
                self._close(None)
            else:
                self.notes.append("generation ended inside a message header")

    # -- text -----------------------------------------------------------------------------

    def _text(self, text: str, token_id: int | None) -> None:
        if self._current is not None:
            if token_id is not None:
                self._current.token_ids.append(token_id)
            self._delta(text)
            return
        if token_id is not None:
            self._pending_ids.append(token_id)
        if not text:
            return
        self._segments[-1][1] += text
        head = read_header(self._segments, self._mode, complete=False)
        if head is not None and head.body is not None:
            self._open(head, missing_message=True)
        elif len(self._pending_ids) > MAX_HEADER_TOKENS:
            self._open_unparsed("a header ran past %d tokens without <|message|>" % MAX_HEADER_TOKENS)

    def _delta(self, text: str) -> None:
        if text:
            self._current.text += text
            self.emit(events.message_delta(self.turn_id, self._current.index, text))

    # -- special tokens -------------------------------------------------------------------

    def _special_in_header(self, token_id: int) -> None:
        if token_id in (CHANNEL, CONSTRAIN):
            head = read_header(self._segments, self._mode, complete=True)
            if head.body is not None:
                # words no header has, then a new header: those words are a message of their own
                self._open(head, missing_message=True)
                self.notes.append(f"message {self._current.index} not closed with <|end|> before "
                                  f"{SPECIAL_NAMES[token_id]}")
                self._close(None)
                self._new_header("implicit" if token_id == CHANNEL else "loose")
            self._pending_ids.append(token_id)
            self._segments.append(["channel" if token_id == CHANNEL else "constrain", ""])
            return
        self._pending_ids.append(token_id)
        if token_id == START:
            head = read_header(self._segments, self._mode, complete=True, terminated=True)
            if head.body:  # text, then a new message: the text is a message of its own
                self._pending_ids.pop()
                self._open(head, missing_message=True)
                self._close(None)
                self._pending_ids.append(token_id)
            elif self._segments_have_text():
                self.notes.append("a header was abandoned for a new <|start|>")
            elif self._mode == "start":
                self.notes.append("doubled <|start|>")
            self._new_header("start", keep_ids=True)
        elif token_id == MESSAGE:
            head = read_header(self._segments, self._mode, complete=True)
            body = head.body or ""
            if head.body:
                head.notes.append("text before <|message|> moved into the body")
            head.body = None
            self._open(head, missing_message=False)
            self._delta(body)
        elif token_id in (END, CALL, RETURN):
            if self._segments_have_text():
                head = read_header(self._segments, self._mode, complete=True, terminated=True)
                self._open(head, missing_message=True)
                self._close(token_id)
                self._new_header("loose")
            else:
                self.notes.append(f"stray {SPECIAL_NAMES[token_id]} outside a message")
                self._new_header("loose", keep_ids=True)
        else:
            self.notes.append(f"unexpected special token {harmony.decode([token_id])} ignored")

    def _special_in_body(self, token_id: int) -> None:
        msg = self._current
        if token_id in (END, CALL, RETURN):
            msg.token_ids.append(token_id)
            if token_id == CALL and not msg.recipient:
                self.notes.append(f"message {msg.index} ends with <|call|> but has no recipient")
            if token_id == RETURN and msg.recipient:
                self.notes.append(f"call in message {msg.index} ended with <|return|>")
            self._close(token_id)
            self._new_header("loose")
        elif token_id in (START, CHANNEL):
            self.notes.append(f"message {msg.index} not closed with <|end|> before "
                              f"{SPECIAL_NAMES[token_id]}")
            self._close(None)
            self._new_header("start" if token_id == START else "implicit")
            self._pending_ids.append(token_id)
            if token_id == CHANNEL:
                self._segments.append(["channel", ""])
        else:
            msg.token_ids.append(token_id)
            self.notes.append(f"stray {harmony.decode([token_id])} inside message {msg.index} ignored")

    # -- messages -------------------------------------------------------------------------

    def _new_header(self, mode: str, keep_ids: bool = False) -> None:
        self._mode = mode
        self._segments: list[list[str]] = [["role", ""]]
        if not keep_ids:
            self._pending_ids = []

    def _segments_have_text(self) -> bool:
        return len(self._segments) > 1 or bool(self._segments[0][1].strip())

    def _open(self, head: Header, missing_message: bool) -> None:
        """Start a message from a read header, deciding its channel; emit its body so far."""
        channel, problem = head.channel, None
        if channel is None and head.recipient and head.recipient.startswith("functions."):
            channel = "commentary"
            head.notes.append(f"call to {head.recipient} without a channel put on commentary")
        elif channel is None:
            where = "outside messages" if self._mode == "loose" else "in a message without a channel"
            problem = f"text {where}"
        elif channel not in CHANNELS:
            problem = f"unknown channel {channel!r}"
        elif channel == "analysis" and head.recipient and head.recipient.startswith("functions."):
            channel = "commentary"
            head.notes.append(f"call to {head.recipient} on the analysis channel moved to commentary")
        body = head.body or ""
        if problem:
            channel = UNPARSED
            header_text = self._header_text()
            if missing_message:  # nothing of an unplaceable header is dropped: it is the body
                body = header_text.lstrip()
            elif header_text.strip():
                problem += f" (header {header_text.strip()!r})"
        if missing_message and not problem:
            head.notes.append("missing <|message|>: the body starts at the first non-header word")
        msg = ParsedMessage(index=self.next_index, role=head.role, channel=channel,
                            recipient=head.recipient, content_type=head.content_type,
                            author=head.author if head.role == "tool" else None,
                            token_ids=self._pending_ids)
        self.next_index += 1
        self._pending_ids = []
        self.messages.append(msg)
        self._current = msg
        self.notes += [f"message {msg.index}: {n}" for n in head.notes]
        if problem:
            self.problems.append(f"message {msg.index}: {problem}")
        self.emit(events.message_start(self.turn_id, msg.index, msg.role, msg.channel,
                                       msg.recipient, msg.content_type))
        self._delta(body)

    def _open_unparsed(self, why: str) -> None:
        self._open(Header(role="assistant"), missing_message=True)  # no channel: unparsed
        self.problems[-1] = f"message {self._current.index}: {why}"

    def _header_text(self) -> str:
        """The header read so far, special tokens written out."""
        return "".join(text if i == 0 else SPECIAL_NAMES[CHANNEL if kind == "channel" else CONSTRAIN] + text
                       for i, (kind, text) in enumerate(self._segments))

    def _close(self, terminator: int | None) -> None:
        msg, self._current = self._current, None
        msg.terminator = terminator
        self.emit(events.message_end(self.turn_id, msg.index, len(msg.token_ids)))
