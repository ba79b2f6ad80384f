"""One turn of a gpt-oss conversation: render → generate → parse → call tools → repeat.

`run_turn` emits protocol frames (inference/events.py) as it goes and returns a
`TurnResult`. It never raises for what a model or a tool does: malformed output, bad tool
arguments, engine failures all end the turn with a status and an error code, after every
generated character has been emitted. A call to a builder's function that the server cannot
run pauses the turn (`awaiting`); the caller resumes it by calling `run_turn` again with the
tool's output appended (see `tool_message`) and the metrics stored at the pause.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from . import events, harmony
from .parser import HarmonyStream, ParsedMessage
from .tools import UnknownTool, registry
from .tools.bounded import run_tool

MAX_TOOL_ROUNDS = 8
FUNCTIONS = "functions."


@dataclass
class PendingCall:
    call_id: str
    name: str
    arguments: Any


@dataclass
class TurnResult:
    status: str  # completed, cancelled, failed, length, awaiting
    messages: list[ParsedMessage]  # new messages of this run, tool messages included
    metrics: dict
    error: dict | None = None
    pending_call: PendingCall | None = None


@dataclass
class Meter:
    """Everything measured during one run of `run_turn`; `metrics()` merges it with what was
    carried over from before a pause. Times of a resumed turn count active time only: the wait
    for the client's tool output is not part of them. `prompt_tokens` counts every prompt token
    processed: each generation after a tool round prefills its whole prompt again, and that
    compute is real (it is in `est_flops` too)."""

    started: float = field(default_factory=time.perf_counter)
    carried: dict = field(default_factory=dict)
    prefill_ms: float | None = None
    decode_ms: float = 0.0
    decode_tokens: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    by_channel: dict = field(default_factory=lambda: {c: 0 for c in events.CHANNELS})
    tool_calls: int = 0
    tool_ms: float | None = None
    first_token_ms: float | None = None
    first_final_ms: float | None = None
    render_ms: float = 0.0
    prefill_rounds: list = field(default_factory=list)  # each generation's prefill, in order
    running_turns: int | None = None

    def since_start(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def mark_first_token(self):
        if self.first_token_ms is None:
            self.first_token_ms = self.since_start()

    def mark_first_final(self):
        if self.first_final_ms is None:
            self.first_final_ms = self.since_start()

    def add_prefill(self, ms):
        self.prefill_ms = (self.prefill_ms or 0.0) + ms
        self.prefill_rounds.append(rounded(ms))

    def add_tool_time(self, ms):
        self.tool_ms = (self.tool_ms or 0.0) + ms

    def count_messages(self, messages):
        for m in messages:
            if m.role == "assistant" and m.channel in self.by_channel:
                self.by_channel[m.channel] += len(m.token_ids)

    def metrics(self, engine, settings, queue_ms) -> dict:
        before = self.carried
        offset = before.get("total_ms") or 0.0

        def plus(key, value):
            prior = before.get(key)
            return value if prior is None else prior if value is None else prior + value

        def first(key, value):
            return before.get(key) if before.get(key) is not None else (
                None if value is None else offset + value)

        decode_ms, decode_tokens = plus("decode_ms", self.decode_ms), plus("decode_tokens", self.decode_tokens)
        prompt_tokens, output_tokens = plus("prompt_tokens", self.prompt_tokens), plus("output_tokens", self.output_tokens)
        carried_channels = before.get("tokens_by_channel") or {}
        return {
            "queue_ms": rounded(plus("queue_ms", queue_ms)),
            "prefill_ms": rounded(plus("prefill_ms", self.prefill_ms)),
            "ttft_ms": rounded(first("ttft_ms", self.first_token_ms)),
            "time_to_final_ms": rounded(first("time_to_final_ms", self.first_final_ms)),
            "total_ms": rounded(offset + self.since_start()),
            "prompt_tokens": prompt_tokens,
            "output_tokens": output_tokens,
            "tokens_by_channel": {c: carried_channels.get(c, 0) + n for c, n in self.by_channel.items()},
            "tool_calls": plus("tool_calls", self.tool_calls),
            "tool_ms": rounded(plus("tool_ms", self.tool_ms)),
            "decode_tokens_per_s": rounded(decode_tokens / decode_ms * 1000) if decode_ms > 0 else None,
            "est_flops": 2 * engine.active_params * (prompt_tokens + output_tokens),
            "model": engine.model_name,
            "device": engine.device,
            "effort": settings.effort,
            "engine": engine.kind,
            "turns_running": self.running_turns,
            # what the time to first token is made of (docs/protocol.md, "Extra keys")
            "render_ms": rounded(plus("render_ms", self.render_ms)),
            "prefill_ms_by_round": (before.get("prefill_ms_by_round") or []) + self.prefill_rounds,
            # Extra keys (docs/protocol.md, "Extra keys"): tok/s stays exact across a pause.
            "decode_ms": rounded(decode_ms),
            "decode_tokens": decode_tokens,
        }


def prefill_ms(tokens, engine):
    """The prefill time of one generation: its own (`Generation.prefill_ms`, right when turns run
    concurrently on one engine), else the engine's last one (single-turn engines, test doubles)."""
    ms = getattr(tokens, "prefill_ms", None)
    return ms if ms is not None else getattr(engine, "last_prefill_ms", None)


def rounded(ms):
    return None if ms is None else round(ms, 1)


def tool_message(emit, turn_id, index, name, output, channel="commentary", author=None) -> ParsedMessage:
    """The harmony message carrying a tool's output back to the model, emitted as its own
    message.start/delta/end (with an extra `author` key). The web app uses this on resume to
    show the client's `tool.output` the same way. A function's output comes from
    `functions.<name>` on commentary; a system tool's (python) from its bare name, on the
    channel of the call."""
    author = author or (name if "." in name else FUNCTIONS + name)
    msg = harmony.Msg(role="tool", author=author, channel=channel, recipient="assistant",
                      text=output)
    token_ids = list(harmony.encoding().render(harmony.to_harmony(msg)))
    start = events.message_start(turn_id, index, "tool", channel, "assistant", None)
    emit({**start, "author": author})
    if output:
        emit(events.message_delta(turn_id, index, output))
    emit(events.message_end(turn_id, index, len(token_ids)))
    return ParsedMessage(index=index, role="tool", channel=channel, recipient="assistant",
                         content_type=None, author=author, text=output, token_ids=token_ids,
                         terminator=harmony.END)


def called_tool(stream: HarmonyStream) -> ParsedMessage | None:
    """The generation's last message when it calls a tool (`functions.<name>`, or any
    recipient when the model ended on `<|call|>`)."""
    last = stream.messages[-1] if stream.messages else None
    if last is None or last.role != "assistant" or not last.recipient:
        return None
    if last.recipient.startswith(FUNCTIONS) or stream.stop_token == harmony.CALL:
        return last
    return None


def parse_arguments(text: str):
    """(arguments, None) or (the raw text, why it is unusable)."""
    try:
        arguments = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return text, f"error: the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(arguments, dict):
        return arguments, "error: the arguments must be a JSON object"
    return arguments, None


def run_builtin(name, arguments, should_cancel=None) -> str:
    """A built-in tool's output, bounded in time and size (inference/tools/bounded.py): a
    function tool runs in a child process the worker can kill, python in its sandbox."""
    try:
        return run_tool(name, arguments, should_cancel)
    except Exception as exc:  # a bug in a tool must not end the turn; the model is told
        return f"error: the {name} tool failed ({type(exc).__name__}: {exc})"


def is_system_tool(name, settings) -> bool:
    """Whether `name` is an enabled built-in tool declared in the system message (python)."""
    if name not in settings.builtin_tools:
        return False
    try:
        return isinstance(registry.get(name).declaration(), harmony.SystemTool)
    except UnknownTool:
        return False


def failure(exc: BaseException) -> dict:
    if isinstance(exc, (harmony.RenderError, UnknownTool)):
        code = "invalid_request"
    elif type(exc).__name__ == "OutOfMemoryError":
        code = "out_of_memory"
    else:
        code = "engine_error"
    why = str(exc).strip('"')  # KeyError-based errors quote their message
    return events.error_info(code, f"{type(exc).__name__}: {why}")


def run_turn(engine, messages, settings, emit, *, turn_id, should_cancel=None, queue_ms=None,
             first_index=0, carried_metrics=None, worker=None, running_turns=None) -> TurnResult:
    """Run one turn (or the rest of a paused one) to its end or its next pause.
    `running_turns`: how many turns the engine was serving when this one started, itself
    included (a worker with several slots says; None where nobody counts)."""
    loop = TurnLoop(engine, messages, settings, emit, turn_id, should_cancel, queue_ms,
                    first_index, carried_metrics)
    loop.meter.running_turns = running_turns
    emit(events.turn_started(turn_id, engine.model_name, engine.device,
                             worker or f"{socket.gethostname()}:{os.getpid()}"))
    return loop.run()


class TurnLoop:
    """The state of one `run_turn` call: the conversation so far, the new messages, the meter."""

    def __init__(self, engine, messages, settings, emit, turn_id, should_cancel, queue_ms,
                 first_index, carried_metrics):
        self.engine, self.settings, self.turn_id, self.queue_ms = engine, settings, turn_id, queue_ms
        self.emit = emit
        self.cancelled = should_cancel or (lambda: False)
        self.meter = Meter(carried=dict(carried_metrics or {}))
        self.conversation = list(messages)
        self.new_messages: list[ParsedMessage] = []
        self.index = first_index
        self.rounds = self.meter.carried.get("tool_calls") or 0
        self.budget = settings.max_output_tokens - (self.meter.carried.get("output_tokens") or 0)
        self.final_indices: set[int] = set()

    def observe(self, frame):
        """Passes frames on, noting when the first final-channel text goes out."""
        if frame["type"] == "message.start" and frame["role"] == "assistant" and frame["channel"] == "final":
            self.final_indices.add(frame["index"])
        elif frame["type"] == "message.delta" and frame["index"] in self.final_indices:
            self.meter.mark_first_final()
        self.emit(frame)

    def finish(self, status, error=None, pending=None) -> TurnResult:
        result = TurnResult(status, self.new_messages,
                            self.meter.metrics(self.engine, self.settings, self.queue_ms), error, pending)
        if status != "awaiting":
            self.emit(events.turn_done(self.turn_id, status, result.metrics, error))
        return result

    def run(self) -> TurnResult:
        generation = 0
        while True:
            if self.cancelled():
                return self.finish("cancelled")
            remaining = self.budget - self.meter.output_tokens
            if remaining <= 0:
                return self.finish("length")
            stream = HarmonyStream(self.turn_id, self.observe, first_index=self.index)
            try:
                self.generate(stream, remaining, generation)
            except Exception as exc:  # the engine or the renderer failed: keep what was generated
                try:
                    stream.finish()
                except Exception:  # the parser itself broke; what it emitted so far stands
                    pass
                self.keep(stream)
                return self.finish("failed", failure(exc))
            generation += 1
            self.keep(stream)
            if stream.problems:
                return self.finish("failed", events.error_info("harmony_parse", "; ".join(stream.problems)))
            if stream.stop_token is None:  # cut off: cancelled, or out of tokens or context
                return self.finish("cancelled" if self.cancelled() else "length")
            call = called_tool(stream)
            if call is None and stream.stop_token == harmony.RETURN:
                return self.finish("completed")
            if call is None:
                return self.finish("failed", events.error_info(
                    "harmony_parse", "the model ended on <|call|> without addressing a tool"))
            if self.cancelled():
                return self.finish("cancelled")
            if self.rounds >= MAX_TOOL_ROUNDS:
                return self.finish("length", events.error_info(
                    "max_tool_rounds", f"the model kept calling tools after {MAX_TOOL_ROUNDS} rounds"))
            paused = self.answer(call, stream)
            if paused is not None:
                return paused

    def generate(self, stream, remaining, generation):
        """One generation, fed token by token to `stream`, timed into the meter."""
        settings, meter = self.settings, self.meter
        rendering = time.perf_counter()
        prompt = harmony.render_prompt(self.conversation, settings)
        meter.render_ms += (time.perf_counter() - rendering) * 1000
        tokens = self.engine.generate(
            prompt, max_new_tokens=remaining, temperature=settings.temperature,
            top_p=settings.top_p, stop_ids=harmony.STOP_TOKENS, should_cancel=self.cancelled,
            seed=None if settings.seed is None else settings.seed + generation)
        meter.prompt_tokens += len(prompt)
        produced = 0
        try:
            while True:
                asked = time.perf_counter()
                token = next(tokens, None)
                if token is None:
                    break
                if produced == 0:  # the first token comes from the prefill
                    meter.mark_first_token()
                    meter.add_prefill(prefill_ms(tokens, self.engine))
                else:
                    meter.decode_ms += (time.perf_counter() - asked) * 1000
                    meter.decode_tokens += 1
                produced += 1
                meter.output_tokens += 1
                stream.feed(token)
        finally:  # ended early (a failure): free what the engine holds for this generation
            if hasattr(tokens, "close"):
                tokens.close()
        stream.finish()

    def keep(self, stream):
        self.new_messages += stream.messages
        self.meter.count_messages(stream.messages)
        self.index = stream.next_index

    def answer(self, call, stream) -> TurnResult | None:
        """Run the called tool and append its output for the next generation; or, for a
        builder's function, pause the turn (the returned result)."""
        self.rounds += 1
        self.meter.tool_calls += 1
        function = call.recipient.startswith(FUNCTIONS)
        name = call.recipient.removeprefix(FUNCTIONS)
        call_id = f"call_{self.turn_id}_{call.index}"
        builder_names = {t.name for t in self.settings.tools}
        system = is_system_tool(name, self.settings) and not (function and name in builder_names)
        if system:  # its input is the message's text (python: the code), not JSON
            arguments, problem = call.text, None
            if function:
                problem = f"error: {name} is not a function: send the code to {name} itself (to={name})"
        else:
            arguments, problem = parse_arguments(call.text)
        self.emit(events.tool_call(self.turn_id, call_id, call.index, name, arguments))
        if problem is None and not system and name in builder_names:
            self.emit(events.tool_awaiting(self.turn_id, call_id, name, arguments))
            return self.finish("awaiting", pending=PendingCall(call_id, name, arguments))
        started = time.perf_counter()
        if not (system or name in self.settings.builtin_tools or name in builder_names):
            known = ", ".join([*self.settings.builtin_tools, *sorted(builder_names)]) or "none"
            output = f"error: there is no tool {call.recipient!r} (available: {known})"
        elif problem is not None:
            output = problem
        else:
            output = run_builtin(name, arguments, self.cancelled)
        ms = (time.perf_counter() - started) * 1000
        self.meter.add_tool_time(ms)
        self.emit(events.tool_result(self.turn_id, call_id, name, output, round(ms, 3)))
        result = tool_message(self.observe, self.turn_id, self.index, call.recipient, output,
                              channel=(call.channel or "analysis") if system else "commentary",
                              author=name if system else None)
        self.new_messages.append(result)
        self.index += 1
        self.conversation += [m.to_msg() for m in stream.messages] + [result.to_msg()]
        return None
