"""Plain factories for the parser tests: run HarmonyStream over a completion's text."""

from __future__ import annotations

from dataclasses import dataclass

from inference import harmony
from inference.parser import HarmonyStream


@dataclass
class Parsed:
    stream: HarmonyStream
    events: list[dict]
    ids: list[int]

    @property
    def text(self) -> str:
        """Every delta's text, concatenated in order."""
        return "".join(e["text"] for e in self.events if e["type"] == "message.delta")

    def texts(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for e in self.events:
            if e["type"] == "message.delta":
                out[e["index"]] = out.get(e["index"], "") + e["text"]
        return out

    def channels(self) -> list[str]:
        return [m.channel for m in self.stream.messages]


def parse_ids(ids, first_index=0) -> Parsed:
    events: list[dict] = []
    stream = HarmonyStream("t1", events.append, first_index=first_index)
    for token_id in ids:
        stream.feed(token_id)
    stream.finish()
    return Parsed(stream, events, list(ids))


def parse(completion: str, first_index=0) -> Parsed:
    """Parse a completion written as text with special tokens (as the model emits it,
    after the prompt's `<|start|>assistant`)."""
    return parse_ids(harmony.encode(completion), first_index)


def assert_frames_consistent(parsed: Parsed) -> None:
    """Each message has one start, then deltas, then one end whose token count is its own;
    deltas equal the message text; no token is counted twice."""
    started, ended = set(), set()
    for e in parsed.events:
        i = e["index"]
        if e["type"] == "message.start":
            assert i not in started
            started.add(i)
        elif e["type"] == "message.delta":
            assert i in started and i not in ended and e["text"]
            assert "\ufffd" not in e["text"] or "\ufffd" in harmony.decode(parsed.ids)
        elif e["type"] == "message.end":
            assert i in started and i not in ended
            ended.add(i)
    msgs = parsed.stream.messages
    assert started == ended == {m.index for m in msgs}
    ends = {e["index"]: e["tokens"] for e in parsed.events if e["type"] == "message.end"}
    assert all(ends[m.index] == len(m.token_ids) for m in msgs)
    assert sum(len(m.token_ids) for m in msgs) <= len(parsed.ids)
    texts = parsed.texts()
    assert all(texts.get(m.index, "") == m.text for m in msgs)


def assert_nothing_lost(parsed: Parsed, *bodies: str) -> None:
    for body in bodies:
        assert body in parsed.text, f"{body!r} missing from {parsed.text!r}"
