"""`TurnSink`, the `emit` the worker hands `inference.turn.run_turn`: frames go out through the
coalescer to the turn's log and group, and each message is stored while it streams (its row
inserted at message.start, its text saved in batches, completed at message.end)."""

from __future__ import annotations

import time

from django.conf import settings

from inference import events

from . import live
from .frames import UNSTORABLE
from .models import Message, Turn


def storable(value):
    """Model output as the database can store it: NUL, which PostgreSQL's text and jsonb
    columns refuse, and lone surrogates become U+FFFD in every string (keys too) of a frame or
    a stored value. Applied before a frame is published as well, so what streamed is what is
    stored."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value) if UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


class TurnSink:
    """The `emit` of one run: publishes frames through the coalescer and keeps the messages,
    storing each one while it streams: its row is inserted at message.start, the text of the
    open messages is saved in batches (once CHAT_STREAM_FLUSH_TOKENS deltas or
    CHAT_STREAM_FLUSH_SECONDS have passed since the last save: one UPDATE per open message),
    and the whole message at message.end. A worker killed mid-turn so loses at most the last
    batch, and the turn, failed by the sweep, shows what was generated. The frames that end a
    run (turn.done, tool.awaiting) are held back until the turn's row is written, so a browser
    that reacts to them (reloads, answers the call) finds the database up to date."""

    ENDING = ("turn.done", "tool.awaiting")

    def __init__(self, turn: Turn, clock=time.monotonic):
        self.turn = turn
        self.clock = clock
        self.unsaved: dict[int, int] = {}  # open message index -> deltas not yet saved
        self.saved_at = clock()
        self.coalescer = events.Coalescer(self.publish)
        self.first_text_at: float | None = None  # when the first message.delta was published
        self.first_text_sent_at: float | None = None  # and when it reached the channel layer
        self.open: dict[int, Message] = {}
        self.stored: dict[int, Message] = {}
        self.held: list[dict] = []
        self.answer: tuple[str, float | None] | None = None  # (call_id, ms) of the next tool message

    def __call__(self, frame: dict):
        frame = storable(frame)
        kind = frame["type"]
        if kind == "message.start":
            answer = None
            if frame["role"] == "tool":
                answer, self.answer = self.answer, None
            self.open[frame["index"]] = Message.objects.create(
                turn=self.turn, index=frame["index"], role=frame["role"],
                author=frame.get("author"), channel=frame["channel"],
                recipient=frame["recipient"], content_type=frame["content_type"], text="",
                call_id=answer[0] if answer else None, tool_ms=answer[1] if answer else None)
        elif kind == "message.delta":
            message = self.open[frame["index"]]
            message.text += frame["text"]
            self.unsaved[message.index] = self.unsaved.get(message.index, 0) + 1
            if (sum(self.unsaved.values()) >= settings.CHAT_STREAM_FLUSH_TOKENS
                    or self.clock() - self.saved_at >= settings.CHAT_STREAM_FLUSH_SECONDS):
                self.save_open()
        elif kind == "message.end":
            message = self.open.pop(frame["index"])
            self.unsaved.pop(message.index, None)
            message.tokens = frame["tokens"]
            message.save()
            self.stored[message.index] = message
        elif kind == "tool.call":
            Message.objects.filter(turn=self.turn, index=frame["index"]).update(
                call_id=frame["call_id"])
        elif kind == "tool.result":
            self.answer = (frame["call_id"], frame["ms"])
        if kind in self.ENDING:
            self.held.append(frame)
        else:
            self.coalescer(frame)

    def save_open(self):
        """The open messages' text so far, one UPDATE each for those that grew since the last."""
        for index in self.unsaved:
            message = self.open[index]
            Message.objects.filter(pk=message.pk).update(text=message.text)
        self.unsaved.clear()
        self.saved_at = self.clock()

    def publish(self, frame: dict):
        on_sent = None
        if frame["type"] == "message.delta" and self.first_text_at is None:
            self.first_text_at = time.perf_counter()
            on_sent = self.first_text_sent
        live.publisher().publish(self.turn.id, frame, on_sent)

    def first_text_sent(self):
        self.first_text_sent_at = time.perf_counter()

    def add_publish_time(self, metrics: dict, carried: dict | None) -> None:
        """`publish_ms`, the last part of the time to first token: from the first text handed
        to the publisher to its arrival on the channel layer (a resumed turn keeps the first
        run's). Set in `metrics` and in the held turn.done frame that carries them."""
        if self.first_text_at is not None and self.first_text_sent_at is None:
            live.publisher().drain()
        if self.first_text_sent_at is not None:
            publish_ms = round((self.first_text_sent_at - self.first_text_at) * 1000, 1)
        else:
            publish_ms = (carried or {}).get("publish_ms")
        metrics["publish_ms"] = publish_ms
        for frame in self.held:
            if frame["type"] == "turn.done":
                frame["metrics"]["publish_ms"] = publish_ms

    def add_lint(self, lint: list[dict] | None) -> None:
        """The turn's conformance findings, an extra key of the held turn.done (none while
        the turn awaits a tool output)."""
        for frame in self.held:
            if frame["type"] == "turn.done" and lint is not None:
                frame["lint"] = lint

    def store_rest(self, parsed_messages):
        """Messages cut off before their end (a crash) are kept with what they had; token ids,
        known only to the parser, are added to every stored message."""
        for message in self.open.values():
            message.save()
            self.stored[message.index] = message
        self.open.clear()
        self.unsaved.clear()
        updated = []
        for parsed in parsed_messages:
            message = self.stored.get(parsed.index)
            if message is not None:
                message.token_ids = list(parsed.token_ids)
                message.tokens = message.tokens or len(parsed.token_ids)
                updated.append(message)
        Message.objects.bulk_update(updated, ["token_ids", "tokens"])

    def release(self, ending: bool = True):
        """Publish what the coalescer still holds and then, with `ending`, the held frames that
        end the run; without it (the turn was ended by someone else first) they are dropped."""
        self.coalescer.flush()
        publisher = live.publisher()
        for frame in self.held if ending else ():
            publisher.publish(self.turn.id, frame)
        publisher.drain()
