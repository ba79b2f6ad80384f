"""Token streams through one engine in this process: the engine's start, then, for each level of
--streams, that many generations at once (one thread each, distinct harmony prompts, no stop ids,
--tokens each). Per level: aggregate tok/s (all tokens over the wall time of the level), per-stream
tok/s and time to first token (p50 and the worst). The transformers engine serves one generation
at a time, so it runs level 1 only.

    python bench/engine_streams.py --engine vllm --streams 1,8 --tokens 256 [--out FILE]

On CPU, --kv-gib sizes vLLM's KV cache (default 1 GiB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference import harmony  # noqa: E402


def prompts(n: int) -> list[list[int]]:
    settings = harmony.TurnSettings(builtin_tools=["calculator", "clock"], date="2026-01-01")
    return [harmony.render_prompt([harmony.Msg("user", f"What is {12 + i} times {34 + 3 * i}?")], settings)
            for i in range(n)]


def stream(engine, prompt, tokens, start: threading.Barrier, row: dict):
    start.wait()
    row["submitted"] = time.perf_counter()
    count = 0
    for _ in engine.generate(prompt, max_new_tokens=tokens, stop_ids=()):
        count += 1
        if count == 1:
            row["first"] = time.perf_counter()
    row["ended"], row["tokens"] = time.perf_counter(), count


def level(engine, n: int, tokens: int) -> dict:
    rows = [{} for _ in range(n)]
    start = threading.Barrier(n)
    threads = [threading.Thread(target=stream, args=(engine, p, tokens, start, row))
               for p, row in zip(prompts(n), rows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max(r["ended"] for r in rows) - min(r["submitted"] for r in rows)
    ttft = [(r["first"] - r["submitted"]) * 1000 for r in rows]
    per_stream = [(r["tokens"] - 1) / (r["ended"] - r["first"]) for r in rows]
    return {"streams": n, "tokens": sum(r["tokens"] for r in rows), "wall_s": round(wall, 2),
            "aggregate_tok_s": round(sum(r["tokens"] for r in rows) / wall, 1),
            "per_stream_tok_s_p50": round(statistics.median(per_stream), 1),
            "ttft_ms_p50": round(statistics.median(ttft), 1), "ttft_ms_max": round(max(ttft), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="vllm")
    parser.add_argument("--model", help="checkpoint folder (default: the embedded gpt-oss-nano)")
    parser.add_argument("--device")
    parser.add_argument("--streams", default="1,8", help="comma-separated levels (default 1,8)")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per stream (default 256)")
    parser.add_argument("--kv-gib", type=float, default=1.0, help="vLLM's KV cache on CPU, GiB")
    parser.add_argument("--engine-args", type=json.loads, default={},
                        help='more vLLM engine arguments, JSON (e.g. \'{"dtype": "bfloat16"}\')')
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.streams.split(",")]
    if args.engine == "transformers" and any(n > 1 for n in levels):
        parser.error("the transformers engine serves one stream at a time: --streams 1")

    from inference.engine import load

    options = {"engine_args": {"kv_cache_memory_bytes": int(args.kv_gib * (1 << 30)), **args.engine_args}} \
        if args.engine == "vllm" else {}
    started = time.perf_counter()
    engine = load(args.engine, args.model, args.device, **options)
    start_s = time.perf_counter() - started
    try:
        list(engine.generate(prompts(1)[0], max_new_tokens=8, stop_ids=()))  # warm up
        report = {"engine": args.engine, "model": engine.model_name, "device": engine.device,
                  "engine_args": args.engine_args, "start_s": round(start_s, 1), "tokens_per_stream": args.tokens,
                  "levels": [level(engine, n, args.tokens) for n in levels]}
    finally:
        engine.close()
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
