"""`python -m inference parse` and `render` as a user runs them: a subprocess, no network.

The fixtures in tests/data/broken_completions.json are completions that broke other
projects' harmony parsers (each names its report); the CLI must never crash on them and
every character of their message bodies must come out in some event."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = json.loads((ROOT / "tests" / "data" / "broken_completions.json").read_text(encoding="utf-8"))

# Python's sockets refuse to connect, and any proxy-aware client (openai-harmony's own
# downloader) is sent to a closed port: the CLI must not need the network at all.
NO_NETWORK = """
import runpy, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
sys.argv = ["inference"] + sys.argv[1:]
runpy.run_module("inference", run_name="__main__", alter_sys=True)
"""


def run_cli(args, stdin=None, vocab_dir=None):
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               OMP_NUM_THREADS="1")
    env.pop("TIKTOKEN_ENCODINGS_BASE", None)
    if vocab_dir is not None:
        env["GPTOSS_VOCAB_DIR"] = str(vocab_dir)
    cmd = [sys.executable, "-c", NO_NETWORK, *args]
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"]).returncode == 0:
        cmd = ["unshare", "-rn", *cmd]  # no network namespace at all where the kernel allows
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def frames(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("case", FIXTURES, ids=[c["name"] for c in FIXTURES])
def test_parse_json_never_crashes_and_drops_nothing(case):
    result = run_cli(["parse", "--json"], stdin=case["completion"])
    assert result.returncode == 0, result.stderr
    out = frames(result.stdout)
    report = out[-1]
    assert report["type"] == "parse.report"
    text = "".join(f["text"] for f in out if f["type"] == "message.delta")
    for body in case["bodies"]:
        assert body in text, f"{body!r} missing from {text!r}"
    channels = [f["channel"] for f in out if f["type"] == "message.start"]
    assert channels == case["channels"]
    assert report["messages"] == len(channels)
    assert bool(report["problems"]) == case["problems"]


def test_parse_reads_a_file_and_prints_channel_labelled_text(tmp_path):
    case = next(c for c in FIXTURES if c["name"] == "tool_call_on_analysis")
    path = tmp_path / "completion.txt"
    path.write_text(case["completion"], encoding="utf-8")
    result = run_cli(["parse", str(path)])
    assert result.returncode == 0, result.stderr
    assert "[1 assistant/commentary → functions.ffgrep (code)]" in result.stdout
    assert '{"path":"","pattern":"TextualDisplayView"}' in result.stdout
    assert "note: message 1: call to functions.ffgrep on the analysis channel moved to commentary" in result.stdout


def test_parse_of_a_missing_file_is_a_clear_error():
    result = run_cli(["parse", "/nonexistent/completion.txt"])
    assert result.returncode == 2
    assert "cannot read /nonexistent/completion.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_render_works_offline_with_a_fresh_vocabulary(tmp_path):
    result = run_cli(["render", "--effort", "high", "--tools", "calculator", "hi"], vocab_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Reasoning: high" in result.stdout
    assert "type calculator = (_: {" in result.stdout
    assert (tmp_path / "o200k_base.tiktoken").exists()


def test_render_json_gives_text_and_ids_that_agree():
    result = run_cli(["render", "--json", "--date", "2025-03-01", "--developer", "Be brief.", "hi"])
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert "Current date: 2025-03-01" in rendered["text"] and "Be brief." in rendered["text"]
    assert rendered["text"].endswith("<|start|>user<|message|>hi<|end|><|start|>assistant")
    sys.path.insert(0, str(ROOT))
    from inference import harmony

    assert harmony.decode(rendered["ids"]) == rendered["text"]


def test_render_with_function_tools_from_a_file(tmp_path):
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([{"name": "get_weather", "description": "Weather of a city.",
                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                "required": ["city"]}}]))
    result = run_cli(["render", "--functions", str(path), "hi"])
    assert result.returncode == 0, result.stderr
    assert "type get_weather = (_: {" in result.stdout and "city: string," in result.stdout


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not JSON"),
    ('{"name": "x"}', "must hold a JSON list"),
    ('[{"name": "bad name"}]', "must be letters, digits and '_'"),
    ('[{"name": "x", "parameters": {"type": "object", "required": ["y"]}}]', "required properties not declared: y"),
    ('[{"name": "x", "args": {}}]', "unknown keys: args"),
])
def test_render_refuses_bad_function_files_clearly(tmp_path, content, message):
    path = tmp_path / "tools.json"
    path.write_text(content)
    result = run_cli(["render", "--functions", str(path), "hi"])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_render_refuses_an_unknown_builtin_tool():
    result = run_cli(["render", "--tools", "teleport", "hi"])
    assert result.returncode == 2
    assert "unknown built-in tool 'teleport'" in result.stderr
