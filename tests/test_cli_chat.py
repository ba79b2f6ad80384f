"""`python -m inference chat ... --json` on a checkpoint folder prints one JSON object per line,
ending with turn.done carrying every metric; text mode prints the channels without colour
when stdout is not a terminal; bad input is a clear error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_gptoss import tiny_gptoss

from inference import events
from inference.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-gptoss"
    tiny_gptoss().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def device(checkpoint):
    """The device Engine.load picks for the checkpoint when none is asked for, as the CLI does:
    cuda:0 where torch sees a GPU, else cpu."""
    return Engine.load(checkpoint).device


def chat(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NO_COLOR": ""}
    return subprocess.run([sys.executable, "-m", "inference", "chat", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_json_lines_end_with_turn_done_holding_every_metric(checkpoint, device):
    run = chat("What is 12*34?", "--effort", "high", "--model", str(checkpoint),
               "--tools", "calculator,clock", "--max-tokens", "12", "--json")

    frames = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode in (0, 1), run.stderr
    assert all(isinstance(f, dict) and "type" in f for f in frames)
    assert frames[0]["type"] == "turn.started" and frames[0]["model"] == "tiny-gptoss"
    assert frames[0]["device"] == device
    assert frames[-1]["type"] == "turn.done"
    assert [f["type"] for f in frames].count("turn.done") == 1
    metrics = frames[-1]["metrics"]
    assert set(events.METRIC_KEYS) <= set(metrics)
    assert metrics["effort"] == "high" and metrics["device"] == device
    assert metrics["output_tokens"] <= 12 and metrics["prefill_ms"] > 0
    assert run.returncode == (1 if frames[-1]["status"] == "failed" else 0)


def test_text_mode_without_a_terminal_has_no_colour(checkpoint, device):
    run = chat("hi", "--model", str(checkpoint), "--max-tokens", "6")

    assert "\x1b[" not in run.stdout
    assert run.stdout.startswith(f"[tiny-gptoss on {device}]")
    assert "6 tokens" in run.stdout.splitlines()[-1] or "error" in run.stdout.splitlines()[-1]


def test_missing_model_folder_is_a_clear_error(tmp_path):
    run = chat("hi", "--model", str(tmp_path / "nowhere"), "--json")
    assert run.returncode == 1 and run.stdout == ""
    assert "does not exist" in run.stderr


def test_unknown_builtin_tool_is_refused_before_loading():
    run = chat("hi", "--tools", "teleporter", "--json")
    assert run.returncode == 2 and "unknown built-in tool 'teleporter'" in run.stderr


def test_a_function_whose_schema_breaks_the_metaschema_is_refused_before_loading(tmp_path):
    functions = tmp_path / "functions.json"
    functions.write_text(json.dumps([{"name": "lookup", "parameters": {
        "type": "object", "properties": {"code": {"type": "text"}}}}]))
    run = chat("hi", "--functions", str(functions), "--json")
    assert run.returncode == 2 and run.stdout == ""
    assert "tool lookup parameters at $.properties.code.type: 'text' is not one of" in run.stderr
