"""Many chats at once through the whole site: the concurrency benchmark.

    python -m inference.bench concurrency --engine vllm --chats 1,4,8,16 [--out bench/results/concurrency-vllm.json]

It starts the real stack on loopback (inference/live_stack.py: Daphne, one Celery worker with
docker-compose.yml's command and GPTOSS_ENGINE=<engine>, PostgreSQL, Redis), logs one user per
chat in through the login form, and asks every prompt once alone (the reference answers). At
each level N, N WebSocket clients each start one new chat at the same moment (greedy, the same
prompt kind, a fixed max_output_tokens). A round runs every level once; there are --rounds
rounds. Each level reports its median round (every round is kept in the JSON), and its ratio
to one chat alone is the median of the rounds' ratios.

Per chat it records the queue time and time to first token (the client's and the worker's
metric), the total time, the output tokens, the final answer and whether every message is
exactly what the same prompt gave alone. Per level: the aggregate tokens/s (all output tokens
over the wall time from the first send to the last turn.done), per-chat tokens/s, p50/p95 time
to first token and queue time, the last/first finish ratio, and the CPU seconds each process
used. It prints a table and writes JSON and a chart (PNG beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from .live_stack import LiveStack, StackError, missing_services, run_turn

PROMPTS = ("What is 123 * 4567?",)
EFFORT = "high"
LEVELS = "1,4,8,16"
USER_PREFIX = "bench"


def turn_settings(max_output_tokens: int) -> dict:
    return {"builtin_tools": ["calculator", "clock"], "temperature": 0,
            "max_output_tokens": max_output_tokens}


def percentile(values, q: float):
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = (len(values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def r1(value):
    return None if value is None else round(value, 1)


# ---- CPU time per process (what each part of the stack costs) ----------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def descendants(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    except OSError:
        pass
    return found


def cpu_snapshot(stack: LiveStack) -> dict:
    """CPU seconds so far of the worker process itself, of its descendants (vLLM's engine core),
    of Daphne and of this client."""
    worker, daphne = (p.pid for p in stack.processes)
    return {"worker": own_cpu_seconds(worker),
            "engine_processes": sum(own_cpu_seconds(p) for p in descendants(worker)),
            "daphne": own_cpu_seconds(daphne), "client": sum(os.times()[:2])}


# ---- one level ---------------------------------------------------------------------------------

async def chats_at_once(stack: LiveStack, sessions: list[str], prompts: list[str], effort: str,
                        settings: dict) -> tuple[float, list]:
    """Every session opens its socket; then all send turn.create at the same moment. Returns
    the send time and each chat's TurnRecord."""
    start = asyncio.Event()
    sockets = [await stack.connect(s) for s in sessions]
    try:
        tasks = [asyncio.create_task(run_turn(ws, prompt, effort=effort, settings=settings,
                                              request_id=f"bench-{i}", start=start))
                 for i, (ws, prompt) in enumerate(zip(sockets, prompts))]
        await asyncio.sleep(0.2)  # every task is waiting on `start`
        sent = asyncio.get_running_loop().time()
        start.set()
        records = await asyncio.gather(*tasks)
    finally:
        for ws in sockets:
            await ws.close()
    return sent, records


def chat_row(record, sent: float, alone) -> dict:
    m = record.metrics
    total_ms = record.total_ms()
    tokens = m.get("output_tokens")
    return {
        "status": record.status, "turn_id": record.turn_id,
        "queue_ms": m.get("queue_ms"), "ttft_ms": m.get("ttft_ms"),
        "client_ttft_ms": r1(record.client_ttft_ms()), "total_ms": r1(total_ms),
        "worker_total_ms": m.get("total_ms"), "output_tokens": tokens,
        "tok_s": r1(tokens / total_ms * 1000) if tokens and total_ms else None,
        "decode_tokens_per_s": m.get("decode_tokens_per_s"), "turns_running": m.get("turns_running"),
        "publish_ms": m.get("publish_ms"),
        "finished_s": None if record.at("turn.done") is None else round(record.at("turn.done") - sent, 3),
        "final": record.final(),
        "same_as_alone": alone is not None and record.channel_texts() == alone.channel_texts(),
        "error": (record.done or {}).get("error") if record.done else record.frames[-1:] or None,
    }


def level_summary(n: int, rows: list[dict], wall_s: float, cpu: dict) -> dict:
    tokens = sum(r["output_tokens"] or 0 for r in rows)
    finished = [r["finished_s"] for r in rows if r["finished_s"] is not None]
    return {
        "chats": n, "wall_s": round(wall_s, 3), "output_tokens": tokens,
        "aggregate_tok_s": r1(tokens / wall_s) if wall_s else None,
        "per_chat_tok_s_p50": r1(percentile([r["tok_s"] for r in rows], 50)),
        "per_chat_tok_s_min": r1(min((r["tok_s"] for r in rows if r["tok_s"]), default=None)),
        "ttft_ms_p50": r1(percentile([r["ttft_ms"] for r in rows], 50)),
        "ttft_ms_p95": r1(percentile([r["ttft_ms"] for r in rows], 95)),
        "client_ttft_ms_p50": r1(percentile([r["client_ttft_ms"] for r in rows], 50)),
        "client_ttft_ms_p95": r1(percentile([r["client_ttft_ms"] for r in rows], 95)),
        "queue_ms_p50": r1(percentile([r["queue_ms"] for r in rows], 50)),
        "queue_ms_p95": r1(percentile([r["queue_ms"] for r in rows], 95)),
        "all_completed": all(r["status"] == "completed" for r in rows),
        "all_same_as_alone": all(r["same_as_alone"] for r in rows),
        "last_over_first_finish": round(max(finished) / min(finished), 2) if finished else None,
        "cpu_s": {name: round(s, 1) for name, s in cpu.items()},
    }


def median_round(rounds: list[dict]) -> dict:
    """A level's figures: the round with the median aggregate tok/s (the lower middle of an even
    number), with every round's aggregate beside it; every chat of every round must have
    answered as alone for `all_same_as_alone`, and `last_over_first_finish_max` is the worst
    round's ratio."""
    ordered = sorted(rounds, key=lambda r: r["aggregate_tok_s"] or 0)
    level = dict(ordered[(len(ordered) - 1) // 2])
    level["rounds_aggregate_tok_s"] = [r["aggregate_tok_s"] for r in rounds]
    level["all_same_as_alone"] = all(r["all_same_as_alone"] for r in rounds)
    level["all_completed"] = all(r["all_completed"] for r in rounds)
    level["last_over_first_finish_max"] = max((r["last_over_first_finish"] or 0) for r in rounds)
    return level


def add_speedups(levels: list[dict], runs: dict[int, list[dict]]) -> None:
    """Each level's aggregate tok/s over one chat's alone, round by round: a round runs every
    level within seconds, so each ratio compares figures taken under the same background load
    (the machine may be shared). `speedup` is the median of the rounds' ratios; None without a
    level of 1."""
    alone = runs.get(1)
    for level in levels:
        if not alone:
            level["speedup"], level["rounds_speedup"] = None, []
            continue
        ratios = [round(r["aggregate_tok_s"] / a["aggregate_tok_s"], 2)
                  for r, a in zip(runs[level["chats"]], alone)
                  if r["aggregate_tok_s"] and a["aggregate_tok_s"]]
        level["rounds_speedup"] = ratios
        level["speedup"] = round(percentile(ratios, 50), 2) if ratios else None


def run_level(stack, sessions, prompts, effort, settings, alone: dict) -> tuple[dict, list[dict]]:
    before = cpu_snapshot(stack)
    sent, records = asyncio.run(chats_at_once(stack, sessions, prompts, effort, settings))
    after = cpu_snapshot(stack)
    ends = [r.at("turn.done") for r in records if r.at("turn.done") is not None]
    wall_s = max(ends) - sent if ends else 0.0
    rows = [chat_row(r, sent, alone.get(p)) for r, p in zip(records, prompts)]
    cpu = {name: after[name] - before[name] for name in after}
    return level_summary(len(records), rows, wall_s, cpu), rows


# ---- report ------------------------------------------------------------------------------------

COLUMNS = [("chats", "chats"), ("aggregate_tok_s", "agg tok/s"), ("speedup", "x alone"),
           ("per_chat_tok_s_p50", "chat tok/s"), ("ttft_ms_p50", "ttft p50"),
           ("ttft_ms_p95", "ttft p95"), ("client_ttft_ms_p95", "c.ttft p95"),
           ("queue_ms_p50", "queue p50"), ("queue_ms_p95", "queue p95"),
           ("last_over_first_finish", "last/first"), ("all_same_as_alone", "same")]


def table(levels: list[dict]) -> str:
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        return str(value)

    widths = [max(len(title), 9) for _, title in COLUMNS]
    lines = [" ".join(f"{title:>{w}}" for (_, title), w in zip(COLUMNS, widths))]
    for level in levels:
        lines.append(" ".join(f"{cell(level.get(key)):>{w}}" for (key, _), w in zip(COLUMNS, widths)))
    return "\n".join(lines)


def markdown_table(levels: list[dict]) -> str:
    head = ["chats", "aggregate tok/s", "× one alone", "each round's tok/s", "tok/s per chat (p50)",
            "TTFT p50 / p95 ms", "queue p50 / p95 ms", "last / first finish", "all as alone"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lv in levels:
        each = " / ".join(str(a) for a in lv.get("rounds_aggregate_tok_s", [lv["aggregate_tok_s"]]))
        lines.append("| " + " | ".join(str(x) for x in (
            lv["chats"], lv["aggregate_tok_s"], lv.get("speedup"), each, lv["per_chat_tok_s_p50"],
            f"{lv['ttft_ms_p50']} / {lv['ttft_ms_p95']}", f"{lv['queue_ms_p50']} / {lv['queue_ms_p95']}",
            lv["last_over_first_finish"], "yes" if lv["all_same_as_alone"] else "no")) + " |")
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    from .bench import pyplot

    plt = pyplot()
    levels = report["levels"]
    chats = [lv["chats"] for lv in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(chats, [lv["aggregate_tok_s"] for lv in levels], "o-", label="all chats (aggregate)")
    left.plot(chats, [lv["per_chat_tok_s_p50"] for lv in levels], "s--", label="per chat (p50)")
    one = next((lv["aggregate_tok_s"] for lv in levels if lv["chats"] == 1), None)
    if one:
        left.plot(chats, [one * n for n in chats], ":", color="grey", label="one alone × chats")
    left.set_xlabel("simultaneous chats")
    left.set_ylabel("output tokens / s")
    left.set_xticks(chats)
    left.set_title("throughput")
    left.legend()
    right.plot(chats, [lv["ttft_ms_p50"] for lv in levels], "o-", label="TTFT p50 (worker)")
    right.plot(chats, [lv["ttft_ms_p95"] for lv in levels], "o--", label="TTFT p95 (worker)")
    right.plot(chats, [lv["client_ttft_ms_p95"] for lv in levels], "^-.", label="first text at the client p95")
    right.plot(chats, [lv["queue_ms_p95"] for lv in levels], "x:", label="queue p95")
    right.set_xlabel("simultaneous chats")
    right.set_ylabel("ms")
    right.set_xticks(chats)
    right.set_title("waiting")
    right.legend(loc="upper left", fontsize="small")
    fig.suptitle(f"{report['model']} on {report['engine']}, full stack on {report['machine']['cpus']} "
                 f"CPUs ({report['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": model, "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


# ---- the command -------------------------------------------------------------------------------

def site_env(args) -> dict:
    """The environment laid over the site's processes. Every round sends a turn from the same
    users within seconds: the per-user rate limit (CHAT_TURNS_PER_MINUTE, 20) is lifted so that
    longer runs are not refused (--env puts it back)."""
    env = {"GPTOSS_ENGINE": args.engine, "GPTOSS_MAX_TURNS": str(args.max_turns),
           "CHAT_TURNS_PER_MINUTE": "100000"}
    if args.engine == "vllm":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(args.kv_gib)
    if args.omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(args.omp_threads)
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.bench concurrency",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("vllm", "transformers"), default="vllm")
    parser.add_argument("--chats", default=LEVELS, help=f"simultaneous chats per level ({LEVELS})")
    parser.add_argument("--prompt", action="append", dest="prompts",
                        help=f"a prompt (repeat for several; chat i asks prompt i mod their number; "
                             f"default {PROMPTS[0]!r})")
    parser.add_argument("--effort", default=EFFORT, choices=("low", "medium", "high"))
    parser.add_argument("--max-output-tokens", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds, each running every level once; a level's median round (by "
                             "aggregate tok/s) is reported (5)")
    parser.add_argument("--max-turns", type=int, help="GPTOSS_MAX_TURNS (default: the largest level)")
    parser.add_argument("--kv-gib", type=float, default=1, help="VLLM_CPU_KVCACHE_SPACE (GiB)")
    parser.add_argument("--omp-threads", type=int, help="OMP_NUM_THREADS of the site's processes (default 1)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more environment for the site's processes")
    parser.add_argument("--model", help="checkpoint folder (default: the embedded gpt-oss-nano)")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--out", help="JSON report (default bench/results/concurrency-<engine>.json)")
    args = parser.parse_args(argv)
    try:
        levels = [int(n) for n in args.chats.split(",") if n.strip()]
    except ValueError:
        parser.error("--chats takes whole numbers, comma-separated")
    if not levels or min(levels) < 1:
        parser.error("--chats needs levels of at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    prompts = args.prompts or list(PROMPTS)
    args.max_turns = args.max_turns or max(levels)
    out = Path(args.out or f"bench/results/concurrency-{args.engine}.json")
    try:
        from .bench import pyplot

        pyplot()
        import websockets  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        parser.error(f"{exc}: pip install -e '.[bench]'")
    if args.engine == "vllm" and importlib.util.find_spec("vllm") is None:
        parser.error("--engine vllm needs vLLM: pip install -e '.[vllm]' (x86-64 Linux)")
    missing = missing_services(args.redis, args.postgres)
    if missing:
        parser.error("the benchmark starts the site, which needs " + " and ".join(missing))

    users = [f"{USER_PREFIX}-{i}" for i in range(max(levels))]
    settings = turn_settings(args.max_output_tokens)
    report = {"engine": args.engine, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine(), "command": "python -m inference.bench concurrency " + " ".join(argv or []),
              "prompts": prompts, "effort": args.effort, "settings": settings,
              "site_env": site_env(args)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        stack = LiveStack(Path(tmp), users=users, password="bench-pass-12345",
                          env=report["site_env"], model_dir=Path(args.model) if args.model else None,
                          postgres_url=args.postgres, redis_url=args.redis)
        try:
            print(f"starting the site ({args.engine}) …", flush=True)
            stack.start()
            report["start_s"] = round(time.perf_counter() - started, 1)
            sessions = [stack.login(u) for u in users]
            alone = {}
            report["alone"] = {}
            for prompt in dict.fromkeys(prompts):  # each prompt once, alone: the reference answers
                _, [record] = asyncio.run(chats_at_once(stack, sessions[:1], [prompt], args.effort, settings))
                alone[prompt] = record
                report["alone"][prompt] = chat_row(record, record.sent_at, record)
                print(f"alone: {prompt!r} → {record.status}, {record.metrics.get('output_tokens')} "
                      f"tokens, final {record.final()!r}", flush=True)
                if record.status != "completed":
                    print(f"the reference turn did not complete: {record.frames[-1:]}\n"
                          f"{stack.tails()}", file=sys.stderr)
                    return 1
            report["levels"], report["chats"] = [], {}
            runs = {n: [] for n in levels}
            for k in range(args.rounds):  # a round runs every level, one after the other
                for n in levels:
                    asked = [prompts[i % len(prompts)] for i in range(n)]
                    summary, rows = run_level(stack, sessions[:n], asked, args.effort, settings, alone)
                    runs[n].append((summary, rows))
                    print(f"round {k + 1}, {n} chats: {summary['aggregate_tok_s']} tok/s aggregate, "
                          f"last/first {summary['last_over_first_finish']}, all as alone: "
                          f"{summary['all_same_as_alone']}, cpu {summary['cpu_s']}", flush=True)
            for n in levels:
                report["levels"].append(median_round([summary for summary, _ in runs[n]]))
                report["chats"][str(n)] = [rows for _, rows in runs[n]]
            add_speedups(report["levels"], {n: [s for s, _ in runs[n]] for n in levels})
            report["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
            model = next((r.first("turn.started") or {}).get("model") for r in alone.values())
            report["model"] = model
        except StackError as exc:
            print(f"the site did not start: {exc}", file=sys.stderr)
            return 1
        finally:
            stack.stop()
    report["seconds"] = round(time.perf_counter() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    chart(report, out.with_suffix(".png"))
    print(table(report["levels"]))
    print()
    print(markdown_table(report["levels"]))
    print(f"wrote {out} and {out.with_suffix('.png')} in {report['seconds']} s")
    return 0
