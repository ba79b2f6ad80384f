"""`python -m inference {render,parse,tokens,chat}`: the harmony core from the command line.

- render: print the exact harmony prompt of one user message (text, then token ids).
- parse:  read a raw completion as servers log it and print the protocol events it
          yields, plus what was malformed (docs/harmony-parsing.md).
- tokens: a text's tokens in o200k_harmony (gpt-oss) and cl100k_base (GPT-4), side by side.
- chat:   run a turn on a model (inference/chat_cli.py); imported only when asked for,
          so render and parse need neither torch nor a checkpoint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import unicodedata

from . import harmony

PROMPT_TAIL = "<|start|>assistant"


class CliError(Exception):
    """Bad input on the command line; printed as one line, exit status 2."""


def load_functions(path: str) -> list[harmony.FunctionTool]:
    """A JSON file holding a list of function tools: {name, description, parameters}."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read --functions file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"--functions file {path} is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise CliError(f"--functions file {path} must hold a JSON list of function tools")
    tools = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise CliError(f"--functions item {i} must be an object with a string 'name'")
        unknown = set(item) - {"name", "description", "parameters"}
        if unknown:
            raise CliError(f"--functions item {item['name']!r} has unknown keys: "
                           f"{', '.join(sorted(unknown))}")
        tools.append(harmony.FunctionTool(item["name"], item.get("description", ""),
                                          item.get("parameters")))
    return tools


def settings_from(args) -> harmony.TurnSettings:
    builtin = [n.strip() for n in args.tools.split(",") if n.strip()] if args.tools else []
    return harmony.TurnSettings(
        effort=args.effort, developer_instructions=args.developer or "",
        tools=load_functions(args.functions) if args.functions else [],
        builtin_tools=builtin, date=args.date)


def cmd_render(args) -> int:
    from .tools import UnknownTool, python
    from .tools.sandbox import SandboxUnavailable

    try:
        settings = settings_from(args)
        python.enable_if_named(settings.builtin_tools)
        ids = harmony.render_prompt([harmony.Msg(role="user", text=args.text)], settings)
    except (harmony.RenderError, UnknownTool, SandboxUnavailable) as exc:
        raise CliError(str(exc).strip('"')) from exc
    text = harmony.decode(ids)
    if args.json:
        print(json.dumps({"text": text, "ids": ids}, ensure_ascii=False))
    else:
        print(text)
        print()
        print(" ".join(map(str, ids)))
    return 0


def read_completion(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        with open(source, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc}") from exc


class TextPrinter:
    """Events as channel-labelled text for people: a `[index channel → recipient]` line
    when a message starts, its text as it arrives."""

    def __call__(self, frame):
        kind = frame["type"]
        if kind == "message.start":
            label = f"{frame['index']} {frame['role']}/{frame['channel']}"
            if frame["recipient"]:
                label += f" → {frame['recipient']}"
            if frame["content_type"]:
                label += f" ({frame['content_type']})"
            print(f"[{label}]")
        elif kind == "message.delta":
            print(frame["text"], end="")
        elif kind == "message.end":
            print(f"\n[/{frame['index']}: {frame['tokens']} tokens]")


def cmd_parse(args) -> int:
    from .parser import HarmonyStream

    completion = read_completion(args.file)
    if completion.lstrip().startswith(PROMPT_TAIL):  # a log that kept the prompt's tail
        completion = completion.lstrip()[len(PROMPT_TAIL):]
    if completion.rstrip().endswith(("<|return|>", "<|call|>")):  # a file's final newline
        completion = completion.rstrip()
    if args.json:
        def emit(frame):
            print(json.dumps(frame, ensure_ascii=False))
    else:
        emit = TextPrinter()
    parser = HarmonyStream("parse", emit)
    for token_id in harmony.encode(completion):
        parser.feed(token_id)
    parser.finish()
    stop = harmony.SPECIAL_NAMES.get(parser.stop_token)
    if args.json:
        print(json.dumps({"type": "parse.report", "problems": parser.problems,
                          "notes": parser.notes, "messages": len(parser.messages),
                          "stop_token": stop}, ensure_ascii=False))
    else:
        print(f"-- {len(parser.messages)} messages, ended on {stop or 'no stop token'}")
        for line in parser.problems:
            print(f"problem: {line}")
        for line in parser.notes:
            print(f"note: {line}")
    return 0


def shown(token: dict) -> str:
    """A token for a terminal: its text quoted with escapes (tabs, newlines visible), or its
    bytes in hex when they are part of a UTF-8 character."""
    if token["hex"]:
        return f"<{token['hex']}>"
    return json.dumps(token["text"], ensure_ascii=False)


def width(text: str) -> int:
    """Terminal columns: wide (CJK, emoji) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cmd_tokens(args) -> int:
    from . import tokens
    from .vocab import VocabError

    try:
        result = tokens.counts(args.text) if args.json else tokens.inspect(args.text)
    except VocabError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_side_by_side(args.text, result)
    return 0


def print_side_by_side(text: str, result: dict) -> None:
    from .tokens import ratio

    o200k, cl100k = result["o200k_harmony"], result["cl100k_base"]
    chars, size = len(text), len(text.encode())
    print(f"{chars} character{'' if chars == 1 else 's'}, {size} UTF-8 byte{'' if size == 1 else 's'}")
    times = ratio(o200k["count"], cl100k["count"])
    for name, entry in result.items():
        print(f"{name:<14}{entry['count']:>6} token{'' if entry['count'] == 1 else 's'}"
              + (f"  ({times:.2f}× o200k_harmony)" if name == "cl100k_base" and times else ""))
    rows = [(f"{t['id']:>6} {shown(t)}" if t else "", f"{u['id']:>6} {shown(u)}" if u else "")
            for t, u in itertools.zip_longest(o200k["tokens"], cl100k["tokens"])]
    if not rows:
        return
    left = max(width("o200k_harmony"), *(width(a) for a, _ in rows))
    number = len(str(len(rows)))
    print()
    print(f"{'#':>{number}}  {'o200k_harmony'}{' ' * (left - 13)}  cl100k_base")
    for i, (a, b) in enumerate(rows, 1):
        print(f"{i:>{number}}  {a}{' ' * (left - width(a))}  {b}".rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="print the harmony prompt of one user message")
    render.add_argument("text", help="the user's message")
    render.add_argument("--effort", choices=harmony.EFFORTS, default="medium")
    render.add_argument("--tools", help="built-in tools to enable, comma-separated (calculator,clock,python)")
    render.add_argument("--developer", help="developer instructions")
    render.add_argument("--functions", metavar="FILE.json",
                        help="a JSON list of function tools {name, description, parameters}")
    render.add_argument("--date", metavar="YYYY-MM-DD", help="conversation date (default today)")
    render.add_argument("--json", action="store_true", help='print {"text": ..., "ids": [...]}')
    render.set_defaults(run=cmd_render)

    parse = sub.add_parser("parse", help="parse a raw harmony completion into protocol events")
    parse.add_argument("file", nargs="?", default="-", help="the completion (default: stdin)")
    parse.add_argument("--json", action="store_true", help="JSON lines, then a parse.report")
    parse.set_defaults(run=cmd_parse)

    tokens = sub.add_parser("tokens", help="a text's tokens in o200k_harmony and cl100k_base")
    tokens.add_argument("text", help="the text, encoded as ordinary text (no special tokens)")
    tokens.add_argument("--json", action="store_true",
                        help='print {"o200k_harmony": {"ids": [...], "count": N}, '
                             '"cl100k_base": {"ids": [...], "count": N}}')
    tokens.set_defaults(run=cmd_tokens)

    sub.add_parser("chat", help="run a turn on a model (see `chat --help`)")
    return parser


def chat(argv: list[str]) -> int:
    from . import chat_cli  # imports the engine (torch): only when chatting

    parser = argparse.ArgumentParser(prog="python -m inference chat")
    chat_cli.add_arguments(parser)
    return chat_cli.main(parser.parse_args(argv)) or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["chat"]:
            return chat(argv[1:])
        args = build_parser().parse_args(argv)
        return args.run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
