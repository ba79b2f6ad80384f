"""The real-size model path on a GPU: load through `Engine.load` and run `run_turn` on CUDA.

No gpt-oss weights can be downloaded here, so the check builds a model with gpt-oss-20b's
exact shapes (hidden 2880, 64 query / 8 key-value heads, 32 experts with top-4 routing,
alternating 128-token sliding window, YaRN RoPE, full o200k_harmony vocabulary) with random
bf16 weights. A few layers of it are saved and loaded back through the engine's
transformers path; the full 24 layers are timed in memory. Random weights emit random
tokens, so the turn also exercises the tolerant parser on garbage. The embedded nano model
runs the same turn on CUDA and must still answer 12 * 34 = 408.

    python bench/gpu_check.py [--layers-saved 2] [--full-layers 24] [--tokens 64]
                              [--out bench/results/gpu.json]

(`--device cpu --layers-saved 1 --full-layers 0` is a slow dry run of the same path.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from transformers import GptOssConfig, GptOssForCausalLM  # noqa: E402

from inference import harmony  # noqa: E402
from inference.engine import Engine  # noqa: E402
from inference.turn import run_turn  # noqa: E402


def gpt_oss_20b_config(layers: int) -> GptOssConfig:
    return GptOssConfig(
        num_hidden_layers=layers, hidden_size=2880, intermediate_size=2880,
        num_attention_heads=64, num_key_value_heads=8, head_dim=64,
        num_local_experts=32, num_experts_per_tok=4, vocab_size=201088,
        sliding_window=128, max_position_embeddings=131072,
        layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(layers)],
        rope_parameters={"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0,
                         "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                         "original_max_position_embeddings": 4096},
        tie_word_embeddings=False,
    )


def random_model(layers: int, device: str) -> GptOssForCausalLM:
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = GptOssForCausalLM(gpt_oss_20b_config(layers))
    finally:
        torch.set_default_dtype(torch.float32)
    return model.eval()


def turn_figures(engine: Engine, text: str, effort: str, max_tokens: int) -> dict:
    frames = []
    settings = harmony.TurnSettings(effort=effort, builtin_tools=["calculator"],
                                    max_output_tokens=max_tokens, date="2026-11-28")
    result = run_turn(engine, [harmony.Msg("user", text)], settings, frames.append, turn_id=1)
    final = "".join(m.text for m in result.messages if m.channel == "final")
    tools = [f["name"] for f in frames if f["type"] == "tool.call"]
    return {"status": result.status, "final": final, "tool_calls": tools,
            "error": result.error, "metrics": result.metrics}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers-saved", type=int, default=2)
    parser.add_argument("--full-layers", type=int, default=24, help="0 skips the in-memory model")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="bench/results/gpu.json")
    args = parser.parse_args()
    on_gpu = args.device.startswith("cuda")
    report = {"device": torch.cuda.get_device_name(0) if on_gpu else "cpu", "torch": torch.__version__}

    started = time.perf_counter()
    nano = Engine.load(device=args.device)
    report["nano_load_s"] = round(time.perf_counter() - started, 2)
    report["nano_turn"] = turn_figures(nano, "What is 12 * 34?", "high", 512)
    print("nano:", json.dumps(report["nano_turn"], default=str)[:600], flush=True)

    with tempfile.TemporaryDirectory() as folder:
        random_model(args.layers_saved, args.device).save_pretrained(folder)
        started = time.perf_counter()
        saved = Engine.load(folder, device=args.device)
        report["saved_20b_shape"] = {
            "layers": args.layers_saved, "load_s": round(time.perf_counter() - started, 2),
            "dtype": str(next(saved.model.parameters()).dtype),
            "turn": turn_figures(saved, "What is 12 * 34?", "low", args.tokens),
        }
        del saved
    print("saved 20b-shaped:", json.dumps(report["saved_20b_shape"], default=str)[:600], flush=True)

    if args.full_layers:
        full = Engine(random_model(args.full_layers, args.device),
                      model_name="gpt-oss-20b-shape (random)", device=str(torch.device(args.device)))
        report["full_20b_shape"] = {
            "layers": args.full_layers, "active_params": full.active_params,
            "memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1) if on_gpu else None,
            "turn": turn_figures(full, "What is 12 * 34?", "low", args.tokens),
        }
        print("full 20b-shaped:", json.dumps(report["full_20b_shape"], default=str)[:600], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
