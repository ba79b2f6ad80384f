"""`python -m inference chat TEXT`: one turn on a model, from the command line.

For people, the channels are printed as they stream, coloured when the output is a terminal:
analysis dim, tool calls and results in their own colours, the final answer plain, then one
line of metrics. With `--json`, the protocol frames (docs/protocol.md) are printed one JSON object
per line, coalesced as the protocol says, ending with `turn.done`. Builder functions declared
with `--functions` are answered on stdin when the model calls them (one line of output).
Ctrl-C stops the turn cooperatively: what was generated is kept and `turn.done` still comes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from . import events, harmony

DEFAULT_TOOLS = "calculator,clock"
STYLES = {  # ANSI styles per kind of text
    "analysis": "\x1b[2m", "commentary": "\x1b[35m", "call": "\x1b[36m", "tool": "\x1b[32m",
    "final": "", "unparsed": "\x1b[31m", "meta": "\x1b[2m", "error": "\x1b[31m",
}
RESET = "\x1b[0m"


def add_arguments(parser) -> None:
    parser.add_argument("text", help="the user's message")
    parser.add_argument("--effort", choices=harmony.EFFORTS, default="medium", help="reasoning effort")
    parser.add_argument("--model", metavar="PATH",
                        help="checkpoint folder (default: $GPTOSS_MODEL, else the embedded gpt-oss-nano)")
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda:0 when present)")
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers",
                        help="the model's engine: transformers (default) or vllm (the vllm extra)")
    parser.add_argument("--tools", default=DEFAULT_TOOLS,
                        help=f"built-in tools to enable, comma-separated (default {DEFAULT_TOOLS}; '' for none; "
                             "python runs the model's code in a bubblewrap sandbox)")
    parser.add_argument("--functions", metavar="FILE.json",
                        help="a JSON list of builder function tools {name, description, parameters}; "
                             "their outputs are read from stdin when called")
    parser.add_argument("--developer", metavar="TEXT", help="developer instructions")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-tokens", type=int, default=harmony.TurnSettings.max_output_tokens,
                        help="output tokens for the whole turn, tool rounds included")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="conversation date (default today)")
    parser.add_argument("--json", action="store_true", help="print protocol frames as JSON lines")


class TextView:
    """Frames as coloured text for people."""

    def __init__(self, out, colour: bool):
        self.out, self.colour, self.style = out, colour, "final"

    def paint(self, style, text):
        code = STYLES[style] if self.colour else ""
        return f"{code}{text}{RESET}" if code else text

    def write(self, text):
        self.out.write(text)
        self.out.flush()

    def __call__(self, frame):
        kind = frame["type"]
        if kind == "turn.started":
            self.write(self.paint("meta", f"[{frame['model']} on {frame['device']}]") + "\n")
        elif kind == "message.start":
            if frame["role"] == "tool":
                self.style, label = "tool", f"{frame.get('author') or 'tool'} → assistant"
            elif frame["recipient"]:
                self.style, label = "call", f"{frame['channel']} → {frame['recipient']}"
            else:
                self.style = frame["channel"] if frame["channel"] in STYLES else "unparsed"
                label = frame["channel"]
            self.write(self.paint(self.style, f"[{label}] "))
        elif kind == "message.delta":
            self.write(self.paint(self.style, frame["text"]))
        elif kind == "message.end":
            self.write("\n")
        elif kind == "tool.result":
            self.write(self.paint("meta", f"[ran {frame['name']} in {frame['ms']:.1f} ms]") + "\n")
        elif kind == "tool.awaiting":
            self.write(self.paint("call", f"[waiting for the output of {frame['name']}]") + "\n")
        elif kind == "turn.done":
            self.write(self.paint("meta", summary(frame)) + "\n")
            if frame["error"]:
                self.write(self.paint("error", f"error {frame['error']['code']}: {frame['error']['message']}") + "\n")


def summary(frame) -> str:
    m = frame["metrics"]
    by = m["tokens_by_channel"]
    parts = [frame["status"],
             f"{m['output_tokens']} tokens (analysis {by['analysis']}, commentary {by['commentary']}, "
             f"final {by['final']})"]
    for key, label in (("prefill_ms", "prefill"), ("ttft_ms", "TTFT"), ("time_to_final_ms", "to final"),
                       ("total_ms", "total")):
        if m[key] is not None:
            parts.append(f"{label} {m[key]:.0f} ms")
    if m["decode_tokens_per_s"] is not None:
        parts.append(f"{m['decode_tokens_per_s']:.1f} tok/s")
    if m["tool_calls"]:
        parts.append(f"{m['tool_calls']} tool call(s)")
    parts.append(f"{m['est_flops']:.2e} FLOPs")
    parts.append(f"{m['model']} on {m['device']}, effort {m['effort']}")
    return " · ".join(parts)


def json_lines(out):
    def emit(frame):
        out.write(json.dumps(frame, ensure_ascii=False) + "\n")
        out.flush()
    return emit


def settings_from(args) -> harmony.TurnSettings:
    functions = []
    if args.functions:
        from .__main__ import load_functions

        functions = load_functions(args.functions)
    return harmony.TurnSettings(
        effort=args.effort, developer_instructions=args.developer or "", tools=functions,
        builtin_tools=[n.strip() for n in (args.tools or "").split(",") if n.strip()],
        temperature=args.temperature, top_p=args.top_p, max_output_tokens=args.max_tokens,
        seed=args.seed, date=args.date)


def read_tool_output(pending, interactive: bool) -> str | None:
    """One line of stdin: the output of the builder function the model called; None at EOF."""
    if interactive:
        sys.stderr.write(f"{pending.name}({json.dumps(pending.arguments, ensure_ascii=False)}) output> ")
        sys.stderr.flush()
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def main(args) -> int:
    from .tools import UnknownTool, python
    from .tools.sandbox import SandboxUnavailable
    from .turn import run_turn, tool_message

    if args.max_tokens < 1:
        print("error: --max-tokens must be at least 1", file=sys.stderr)
        return 2
    settings = settings_from(args)  # a bad --functions file raises CliError, which __main__ prints
    try:
        python.enable_if_named(settings.builtin_tools)
        harmony.render_prompt([harmony.Msg("user", args.text)], settings)  # bad settings fail here
    except (harmony.RenderError, UnknownTool, SandboxUnavailable) as exc:
        print(f"error: {str(exc).strip(chr(34))}", file=sys.stderr)
        return 2
    if args.json:
        send = json_lines(sys.stdout)
    else:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        send = TextView(sys.stdout, colour)
    from .engine import EngineError, load  # torch: only once the request is known to be good

    if args.engine == "vllm":  # vLLM logs to stdout by default; stdout is for the turn here
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    try:
        started = time.perf_counter()
        engine = load(args.engine, args.model, args.device)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"[loaded {engine.model_name} in {time.perf_counter() - started:.1f} s]", file=sys.stderr)

    stop = {"asked": False}
    previous = signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))
    emit = events.Coalescer(send)
    turn_id = 1
    try:
        messages = [harmony.Msg("user", args.text)]
        result = run_turn(engine, messages, settings, emit, turn_id=turn_id,
                          should_cancel=lambda: stop["asked"])
        while result.status == "awaiting":
            emit.flush()
            output = read_tool_output(result.pending_call, sys.stdin.isatty())
            if output is None:
                emit(events.turn_done(turn_id, "cancelled", result.metrics, events.error_info(
                    "no_tool_output", f"stdin ended before the output of {result.pending_call.name}")))
                break
            shown = tool_message(emit, turn_id, result.messages[-1].index + 1,
                                 result.pending_call.name, output)
            messages += [m.to_msg() for m in result.messages] + [shown.to_msg()]
            result = run_turn(engine, messages, settings, emit, turn_id=turn_id,
                              should_cancel=lambda: stop["asked"], first_index=shown.index + 1,
                              carried_metrics=result.metrics)
    finally:
        signal.signal(signal.SIGINT, previous)
        emit.flush()
        if hasattr(engine, "close"):  # vLLM's engine-core processes; test doubles have none
            engine.close()
    return 1 if result.status == "failed" else 0
