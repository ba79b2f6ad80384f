"""The harmony token timeline of one turn: the exact tokens the model was given and wrote,
generation by generation ("rounds").

A turn is one or more generations. Round 0 is given the conversation so far (system and
developer messages, the visible history, the user's message) rendered by
`harmony.render_prompt`, and writes messages until it stops; when it calls a tool, the tool's
answer is added and round 1 is given the whole conversation rendered again, and so on. Nothing
of a prompt is stored: it is rebuilt here with the very function the worker rendered it with,
from what a stored turn keeps (its settings, its history, the user's text, its messages and the
conversation's start date). What the model wrote is its messages' stored `token_ids`, as it
generated them (stray tokens the parser found outside any message are not stored).

A later round's prompt repeats the earlier one and what was written after it, up to where
harmony renders something differently from how the model wrote it (a call's `to=` before its
channel, say): a round lists its prompt from that point on (`reused` tokens before it are the
previous round's), so nothing is shown twice and every position is the one the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import harmony, tokens

# o200k_harmony: every id from here on is a special token (<|start|>, <|channel|>, …)
FIRST_SPECIAL_ID = 199998


@dataclass
class Stored:
    """One stored message of the turn: its index, the message, the token ids it was written as."""

    index: int
    msg: harmony.Msg
    ids: list[int]


@dataclass
class Span:
    """Consecutive tokens of one message (or of the prompt's closing `<|start|>assistant`)."""

    part: str  # "prompt" or "completion"
    round: int
    role: str | None
    author: str | None = None  # a tool's name (`functions.calculator`, `browser.search`)
    channel: str | None = None
    recipient: str | None = None
    first: int = 0  # the position of its first token in the round's context
    ids: list[int] = field(default_factory=list)
    message: int | None = None  # the turn's stored message index (completion spans)

    def as_json(self) -> dict:
        return {"part": self.part, "round": self.round, "role": self.role, "author": self.author,
                "channel": self.channel, "recipient": self.recipient, "message": self.message,
                "tokens": [token(token_id, self.first + n) for n, token_id in enumerate(self.ids)]}


@dataclass
class Round:
    number: int
    prompt: list[int]  # every token the model was given
    completion: list[int]  # every stored token it wrote
    reused: int  # leading prompt tokens equal to the previous round's prompt and completion
    spans: list[Span]  # the prompt from `reused` on, then the completion
    tools: list[str]  # authors of the tool answers this round was given

    def as_json(self) -> dict:
        return {"round": self.number, "prompt_tokens": len(self.prompt), "reused": self.reused,
                "completion_tokens": len(self.completion), "tools": self.tools,
                "spans": [span.as_json() for span in self.spans]}


@dataclass
class Timeline:
    rounds: list[Round]
    last_given: list[harmony.Msg]  # the conversation the last generation was given (no settings)

    @property
    def last_prompt(self) -> list[int]:
        """The prompt of the turn's last generation: the whole conversation as it was given."""
        return self.rounds[-1].prompt

    def as_json(self) -> dict:
        return {"rounds": [r.as_json() for r in self.rounds],
                "prompt_tokens": sum(len(r.prompt) for r in self.rounds),
                "completion_tokens": sum(len(r.completion) for r in self.rounds)}


def token(token_id: int, position: int) -> dict:
    """One token as the timeline shows it: id, text (special tokens by name; the bytes in hex
    when they are part of a character split across tokens), position, special or not."""
    if token_id >= FIRST_SPECIAL_ID:
        return {"id": token_id, "text": harmony.decode([token_id]), "position": position,
                "special": True}
    piece = tokens.piece("o200k_harmony", token_id)
    shown = {"id": token_id, "text": piece["text"], "position": position, "special": False}
    if piece["hex"]:
        shown["hex"] = piece["hex"]
    return shown


def split_rounds(turn_messages: list[Stored]) -> list[tuple[list[Stored], list[Stored]]]:
    """The turn's messages as rounds: (tool answers given before it, messages it wrote). A tool
    answer ends the round whose call it answers."""
    rounds: list[tuple[list[Stored], list[Stored]]] = [([], [])]
    for stored in turn_messages:
        if stored.msg.role == "tool":
            if rounds[-1][1]:
                rounds.append(([], []))
            rounds[-1][0].append(stored)
        else:
            rounds[-1][1].append(stored)
    return rounds


def prompt_spans(conversation: list[harmony.Msg], settings: harmony.TurnSettings, number: int,
                 prompt: list[int]) -> list[Span]:
    """The prompt cut into its messages, then `<|start|>assistant`. Each message begins with
    `<|start|>`, which no text can hold (text is always encoded as ordinary tokens); it is cut
    at those rather than rendered message by message, since harmony renders a message with what
    follows in mind (a system message says where function calls go when a developer message
    declares functions). Should the count ever disagree, the prompt stays one span."""
    starts = [at for at, token_id in enumerate(prompt) if token_id == harmony.START]
    messages = harmony.harmony_messages(conversation, settings)
    if len(starts) != len(messages) + 1 or (starts and starts[0] != 0):
        return [Span("prompt", number, None, first=0, ids=list(prompt))]
    ends = starts[1:] + [len(prompt)]
    spans = [Span("prompt", number, m.author.role.value, m.author.name, m.channel, m.recipient,
                  start, prompt[start:end])
             for m, start, end in zip(messages, starts, ends)]
    return spans + [Span("prompt", number, "assistant", first=starts[-1], ids=prompt[starts[-1]:])]


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def from_position(spans: list[Span], start: int) -> list[Span]:
    """The spans' tokens at `start` and after (a span cut in two keeps its second part)."""
    kept = []
    for span in spans:
        end = span.first + len(span.ids)
        if end <= start:
            continue
        cut = max(0, start - span.first)
        kept.append(Span(span.part, span.round, span.role, span.author, span.channel,
                         span.recipient, span.first + cut, span.ids[cut:], span.message))
    return kept


def written_ids(msg: harmony.Msg, ids: list[int]) -> list[int]:
    """A message's tokens as generated; a message stored without them (turns from before token
    ids were kept) is rendered by harmony instead."""
    return list(ids) if ids else list(harmony.encoding().render(harmony.to_harmony(msg)))


def build(before: list[harmony.Msg], turn_messages: list[Stored],
          settings: harmony.TurnSettings) -> Timeline:
    """The timeline of a turn. `before`: the conversation as the turn's first generation was
    given it (history, then the user's message); `turn_messages`: the turn's stored messages in
    order; `settings`: the turn's, with the date it was rendered with. Raises
    harmony.RenderError (or UnknownTool) as the worker's render would."""
    conversation = list(before)
    rounds: list[Round] = []
    for number, (given, wrote) in enumerate(split_rounds(turn_messages)):
        conversation += [stored.msg for stored in given]
        last_given = list(conversation)
        prompt = harmony.render_prompt(conversation, settings)
        spans = prompt_spans(conversation, settings, number, prompt)
        reused = 0
        if rounds:
            reused = common_prefix(prompt, rounds[-1].prompt + rounds[-1].completion)
            spans = from_position(spans, reused)
        completion, at = [], len(prompt)
        for stored in wrote:
            msg, ids = stored.msg, written_ids(stored.msg, stored.ids)
            spans.append(Span("completion", number, msg.role, msg.author, msg.channel, msg.recipient,
                              at, ids, stored.index))
            completion += ids
            at += len(ids)
        rounds.append(Round(number, prompt, completion, reused, spans,
                            [stored.msg.author for stored in given if stored.msg.author]))
        conversation += [stored.msg for stored in wrote]
    return Timeline(rounds, last_given)
