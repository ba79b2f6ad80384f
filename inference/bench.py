"""The benchmarks. `python -m inference.bench concurrency …` is the concurrency benchmark (many
chats at once through the whole site: inference/bench_concurrency.py); any other arguments run
the effort benchmark.

The effort benchmark: the same held-out problems at each reasoning effort, run through the
product's own turn loop (`run_turn`), scored, and drawn as a chart.

    python -m inference.bench --efforts low,medium,high --n 200 [--model PATH] --out bench/results/effort.json

The in-template set (`--n` problems, the report's `summary` and `rows`) draws its requests from
the training templates; `--sets` adds the sets of `bench_sets` (held-out wordings, held-out
function shapes, first messages), each reported apart under `sets`.

In-template problems come from the nano data generator with a seed training never uses, and builder
function tools from name/parameter combinations training never uses (`nano.problems.split`), so the
`function` rows measure calls to tools the model never saw. Against a real gpt-oss checkpoint
(`--model /path/to/gpt-oss-20b --device cuda`) the same problems and scoring apply.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from . import bench_sets, harmony
from .engine import Engine
from .events import CHANNELS
from .nano.generator import Generator, has_no_history
from .nano.problems import Problem, is_letter_code
from .nano.wordings import OUT_OF_DOMAIN_HELD_OUT
from .turn import run_turn

HELD_OUT_SEED = 1_000_003  # problem i is seeded "held-out:<seed>:<i>"; training, "<seed>:<chunk>"


def held_out_problems(n: int, seed: int = HELD_OUT_SEED, after_an_exchange: bool = False) -> list[Problem]:
    """n problems; each is asked at every effort with the same prompt. The kinds follow the
    training mix as closely as n allows, and each problem has its own generator: a change to
    one kind's templates leaves the mix, and the other kinds' problems, as they were. With
    `after_an_exchange` the same problems (follow-ups aside, which have their own) come second
    in a conversation, after an answered request on something else."""
    weights = Generator.KIND_WEIGHTS
    counts = dict.fromkeys(weights, 0)
    problems = []
    for i in range(n):
        kind = max(weights, key=lambda k: weights[k] * (i + 1) - counts[k])  # the kind most behind
        counts[kind] += 1
        gen = Generator(f"held-out:{seed}:{i}", held_out=True)
        if kind == "out_of_domain":
            problem = gen.out_of_domain("high", OUT_OF_DOMAIN_HELD_OUT)
        else:
            problem = gen.problem(kind, "high")
        problems.append(gen.after_an_exchange(problem) if after_an_exchange and has_no_history(problem) else problem)
    return problems


def with_effort(problem: Problem, effort: str):
    """The problem's prompt at `effort`, dated today as in the product (the real clock runs)."""
    settings = harmony.TurnSettings(**{**problem.settings.__dict__, "effort": effort, "date": None})
    return problem.prompt, settings


MINUS_SIGNS = "-\u2212"  # ASCII hyphen-minus and U+2212 MINUS SIGN


def contains_number(text: str, number: str) -> bool:
    """Whether `text` states `number` (as the benchmark's answers are written: digits, a leading
    minus when negative, a decimal part when not whole) as a number of its own. Not when it is
    only a part of another number: 1408, 4080, 408.5, 3.408, the negative -408 (`-` right before
    the digits, not after a digit as in `412-4`), or a group of a number written with thousands
    separators (1,408, 408,000). The number itself may be written with them (10,349) and with
    a U+2212 minus sign."""
    negative = number.startswith("-")
    whole, dot, fraction = number.lstrip("-").partition(".")
    spellings = [whole]
    if len(whole) > 3:
        head = len(whole) % 3 or 3
        spellings.append(",".join([whole[:head]] + [whole[i:i + 3] for i in range(head, len(whole), 3)]))
    digits = "(?:" + "|".join(map(re.escape, spellings)) + ")" + (re.escape(dot + fraction) if dot else "")
    if negative:
        before = rf"(?<![\d.,])[{MINUS_SIGNS}]"
    else:  # a minus sign right before the digits makes them another (negative) number
        before = rf"(?<![\d.])(?<!\d,)(?:(?<=\d[{MINUS_SIGNS}])|(?<![{MINUS_SIGNS}]))"
    return re.search(before + digits + r"(?!\d|[.,]\d)", text) is not None


def run_problem(engine, problem: Problem, effort: str, turn_id: str) -> dict:
    """One turn, resumed with the generator's tool output when it pauses on a builder tool."""
    messages, settings = with_effort(problem, effort)
    frames = []
    result = run_turn(engine, messages, settings, frames.append, turn_id=turn_id)
    produced = list(result.messages)
    call = None
    if result.status == "awaiting":
        call = {"name": result.pending_call.name, "arguments": result.pending_call.arguments}
        output = problem.tool_results.get(call["name"], "error: no such tool")
        tool = harmony.Msg(role="tool", author=f"functions.{call['name']}", channel="commentary",
                           recipient="assistant", text=output)
        history = messages + [m.to_msg() for m in produced] + [tool]
        last_index = max((m.index for m in produced), default=-1)
        result = run_turn(engine, history, settings, frames.append, turn_id=turn_id,
                          first_index=last_index + 2, carried_metrics=result.metrics)
        produced += result.messages
    return score(problem, effort, result, produced, frames, call)


def score(problem: Problem, effort: str, result, produced, frames, call) -> dict:
    calls = [f for f in frames if f["type"] == "tool.call"]
    results = [f["output"] for f in frames if f["type"] == "tool.result"]
    declared = {t.name for t in problem.settings.tools} | set(problem.settings.builtin_tools)
    valid_calls = sum(isinstance(c["arguments"], dict) and c["name"] in declared for c in calls)
    finals = [m.text for m in produced if m.role == "assistant" and m.channel == "final"]
    final = finals[-1] if finals else ""
    completed = result.status == "completed" and bool(finals)
    expected = problem.expected
    if problem.kind in ("arithmetic", "follow_up"):
        correct = completed and contains_number(final, expected["answer"])
    elif problem.kind == "clock":
        reading = next((r for r in results if not r.startswith("error")), "")
        date, clock_time = (reading.split(" ")[:2] + ["", ""])[:2]
        wanted = date if expected["answer"].count("-") == 2 else clock_time[:5]
        correct = completed and bool(wanted) and wanted in final
    elif problem.kind == "function":
        correct = call is not None and call == expected["call"] and completed
    else:
        correct = completed and not calls
    metrics = result.metrics
    return {
        "kind": problem.kind, "effort": effort, "correct": bool(correct), "status": result.status,
        "parsed": not (result.error and result.error.get("code") == "harmony_parse"),
        "tool_calls": len(calls), "valid_tool_calls": valid_calls,
        "call_correct": None if problem.kind != "function" else call == expected["call"],
        "letter_code": None if problem.kind != "function" else
        any(is_letter_code(v) for v in expected["call"]["arguments"].values()),
        "tokens_by_channel": metrics["tokens_by_channel"], "total_ms": metrics["total_ms"],
        "decode_ms": metrics.get("decode_ms") or 0.0, "decode_tokens": metrics.get("decode_tokens") or 0,
        "output_tokens": metrics["output_tokens"], "final": final[:200],
    }


CHIT_CHAT = ("chat", "out_of_domain")  # kinds answered with no tool call


def summarise(rows: list[dict]) -> dict:
    calls = sum(r["tool_calls"] for r in rows)
    function_rows = [r for r in rows if r["call_correct"] is not None]
    chat_rows = [r for r in rows if r["kind"] in CHIT_CHAT]
    decode_ms = sum(r["decode_ms"] for r in rows)
    out = {
        "n": len(rows),
        "accuracy": mean(r["correct"] for r in rows),
        "parse_rate": mean(r["parsed"] for r in rows),
        # a turn that parsed and ended by itself with a final answer
        "well_formed": mean(r["parsed"] and r["status"] == "completed" for r in rows),
        "ended_by_length": sum(r["status"] == "length" for r in rows),
        "chit_chat_without_tool_call": mean(r["tool_calls"] == 0 for r in chat_rows) if chat_rows else None,
        "tool_call_validity": round(sum(r["valid_tool_calls"] for r in rows) / calls, 4) if calls else None,
        "unseen_function_call_accuracy": mean(r["call_correct"] for r in function_rows) if function_rows else None,
        # Letter codes are the known weak spot of gpt-oss-nano (docs/nano.md): counted apart.
        "unseen_function_calls_right": {
            name: {"right": sum(bool(r["call_correct"]) for r in group), "n": len(group)}
            for name, group in (("with a letter code", [r for r in function_rows if r["letter_code"]]),
                                ("other", [r for r in function_rows if not r["letter_code"]]))},
        "mean_latency_ms": round(mean(r["total_ms"] for r in rows), 1),
        "tokens_per_s": round(sum(r["decode_tokens"] for r in rows) / decode_ms * 1000, 1) if decode_ms else None,
        "mean_output_tokens": round(mean(r["output_tokens"] for r in rows), 1),
        "accuracy_by_kind": {k: mean(r["correct"] for r in rows if r["kind"] == k)
                             for k in sorted({r["kind"] for r in rows})},
    }
    for channel in CHANNELS:
        counts = [r["tokens_by_channel"].get(channel, 0) for r in rows]
        out[f"mean_{channel}_tokens"] = round(mean(counts), 1)
        out[f"median_{channel}_tokens"] = statistics.median(counts)
    return out


def mean(values) -> float:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0


def table(summary: dict) -> str:
    columns = [("accuracy", "acc"), ("parse_rate", "parse"), ("well_formed", "formed"), ("ended_by_length", "length"),
               ("chit_chat_without_tool_call", "no-tool"), ("tool_call_validity", "tool ok"),
               ("unseen_function_call_accuracy", "unseen fn"), ("median_analysis_tokens", "med anl"),
               ("mean_analysis_tokens", "mean anl"), ("median_commentary_tokens", "med cmt"),
               ("median_final_tokens", "med fin"), ("mean_latency_ms", "ms/turn"), ("tokens_per_s", "tok/s")]
    lines = ["effort  " + "".join(f"{title:>10}" for _, title in columns)]
    for effort, row in summary.items():
        cells = "".join(f"{cell(row[k]):>10}" for k, _ in columns)
        lines.append(f"{effort:<8}" + cells)
    return "\n".join(lines)


def cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else str(value)


def pyplot():
    """matplotlib's pyplot, drawing to files; matplotlib is the `bench` extra, not a runtime
    dependency."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the benchmark draws its chart with matplotlib, which is not installed: "
                          "pip install -e '.[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart(summary: dict, path: Path, title: str) -> None:
    plt = pyplot()

    efforts = list(summary)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    acc = [summary[e]["accuracy"] * 100 for e in efforts]
    left.bar(efforts, acc, color="#4c72b0")
    left.set_ylim(0, 105)
    left.set_ylabel("final answer correct (%)")
    left.set_title("accuracy")
    for x, v in enumerate(acc):
        left.text(x, v + 1, f"{v:.1f}", ha="center")
    bottom = [0.0] * len(efforts)
    for channel, color in zip(CHANNELS, ("#dd8452", "#55a868", "#4c72b0")):
        values = [summary[e][f"mean_{channel}_tokens"] for e in efforts]
        right.bar(efforts, values, bottom=bottom, label=channel, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    right.set_ylabel("mean tokens per turn")
    right.set_title("compute: tokens by channel")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sets_chart(by_set: dict[str, dict], path: Path, title: str) -> None:
    """Accuracy of each set at each effort, side by side."""
    plt = pyplot()
    names = list(by_set)
    efforts = list(next(iter(by_set.values())))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(efforts)
    for k, effort in enumerate(efforts):
        values = [by_set[name][effort]["accuracy"] * 100 for name in names]
        xs = [i + (k - (len(efforts) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, values, width, label=effort)
        for x, v in zip(xs, values):
            ax.text(x, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 110)
    ax.set_ylabel("correct (%)")
    ax.legend(title="effort")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["concurrency"]:
        from .bench_concurrency import main as concurrency

        return concurrency(argv[1:])
    if argv[:1] == ["soak"]:
        from .bench_soak import main as soak

        return soak(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m inference.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--efforts", default="low,medium,high")
    parser.add_argument("--n", type=int, default=200, help="problems per effort")
    parser.add_argument("--model", help="checkpoint folder (default: GPTOSS_MODEL, else gpt-oss-nano)")
    parser.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--after-an-exchange", action="store_true",
                        help="ask each problem second in a conversation, after an answered request on something else")
    parser.add_argument("--sets", default=",".join(bench_sets.SETS),
                        help=f"sets asked besides the in-template one (default all: {', '.join(bench_sets.SETS)}; "
                             "'none' for none)")
    parser.add_argument("--out", default="bench/results/effort.json")
    args = parser.parse_args(argv)
    efforts = [e.strip() for e in args.efforts.split(",") if e.strip()]
    unknown = [e for e in efforts if e not in harmony.EFFORTS]
    if unknown or not efforts:
        parser.error(f"efforts must be among {', '.join(harmony.EFFORTS)}")
    if args.n < 1:
        parser.error("--n must be at least 1")
    sets = [] if args.sets == "none" else [s.strip() for s in args.sets.split(",") if s.strip()]
    if any(s not in bench_sets.SETS for s in sets):
        parser.error(f"sets must be among {', '.join(bench_sets.SETS)}, or none")
    try:
        pyplot()  # before the run, not after it
    except ImportError as exc:
        parser.error(str(exc))
    started = time.time()
    engine = Engine.load(args.model, args.device)
    problems = held_out_problems(args.n, args.seed, args.after_an_exchange)
    rows = defaultdict(list)
    for effort in efforts:
        for i, problem in enumerate(problems):
            rows[effort].append(run_problem(engine, problem, effort, f"bench-{effort}-{i}"))
    summary = {e: summarise(rows[e]) for e in efforts}
    other = {}
    for name in sets:
        asked = bench_sets.problems_of(name)
        set_rows = {e: [run_problem(engine, p, e, f"bench-{name}-{e}-{i}") for i, p in enumerate(asked)]
                    for e in efforts}
        other[name] = {"n": len(asked), "summary": {e: summarise(set_rows[e]) for e in efforts}, "rows": set_rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"model": engine.model_name, "device": engine.device, "n": args.n, "seed": args.seed,
              "after_an_exchange": args.after_an_exchange,
              "seconds": round(time.time() - started), "summary": summary,
              "command": "python -m inference.bench " + " ".join(argv),
              "rows": rows, "sets": other}
    out.write_text(json.dumps(report, indent=1) + "\n")
    second = ", each asked after an earlier exchange" if args.after_an_exchange else ""
    chart(summary, out.with_suffix(".png"), f"{engine.model_name}: effort vs accuracy and compute (n={args.n}{second})")
    if other:
        sets_chart({"in-template": summary, **{name: r["summary"] for name, r in other.items()}},
                   out.with_name(out.stem + "-sets.png"), f"{engine.model_name}: accuracy by set and effort")
    print("in-template\n" + table(summary))
    for name, result in other.items():
        print(f"{name} (n={result['n']})\n" + table(result["summary"]))
    print(f"wrote {out} and {out.with_suffix('.png')} in {report['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
