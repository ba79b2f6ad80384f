"""`python -m inference.bench` writes a report with a summary per effort (function calls with a
letter code counted apart), its rows, and a chart."""

import json
import sys

import pytest

from inference import bench
from inference.nano.problems import is_letter_code


def row(kind="function", correct=True, letter_code=False, status="completed", tool_calls=1) -> dict:
    return {"kind": kind, "effort": "low", "correct": correct, "status": status, "parsed": True,
            "tool_calls": tool_calls, "valid_tool_calls": tool_calls,
            "call_correct": correct if kind == "function" else None,
            "letter_code": letter_code if kind == "function" else None,
            "tokens_by_channel": {"analysis": 5, "commentary": 10, "final": 4}, "total_ms": 50.0,
            "decode_ms": 40.0, "decode_tokens": 19, "output_tokens": 19, "final": "ok"}


def test_function_calls_with_a_letter_code_are_counted_apart():
    rows = [row(letter_code=True, correct=False), row(letter_code=True), row(), row(), row(correct=False),
            row(kind="arithmetic")]
    summary = bench.summarise(rows)
    assert summary["unseen_function_calls_right"] == {"with a letter code": {"right": 1, "n": 2},
                                                      "other": {"right": 2, "n": 3}}
    assert summary["unseen_function_call_accuracy"] == 0.6


def test_the_benchmark_has_function_problems_with_and_without_letter_codes():
    functions = [p for p in bench.held_out_problems(200) if p.kind == "function"]
    coded = [p for p in functions if any(map(is_letter_code, p.expected["call"]["arguments"].values()))]
    assert 0 < len(coded) < len(functions) / 2


def test_a_run_writes_its_report_and_chart(tmp_path, capsys):
    out = tmp_path / "effort.json"
    assert bench.main(["--efforts", "low", "--n", "6", "--sets", "none", "--out", str(out), "--device", "cpu"]) == 0
    report = json.loads(out.read_text())
    summary = report["summary"]["low"]
    assert report["n"] == 6 and len(report["rows"]["low"]) == 6
    split = summary["unseen_function_calls_right"]
    assert split["with a letter code"]["n"] + split["other"]["n"] == sum(
        r["kind"] == "function" for r in report["rows"]["low"])
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "unseen fn" in capsys.readouterr().out


def test_after_an_exchange_asks_the_same_problems_second_in_a_conversation():
    alone, second = bench.held_out_problems(40), bench.held_out_problems(40, after_an_exchange=True)
    for a, b in zip(alone, second):
        assert b.answer == a.answer and b.prompt[-1] == a.prompt[-1]
        if a.kind == "follow_up":
            assert b.prompt == a.prompt
        else:
            assert [m.role for m in b.prompt] == ["user", "assistant", "user"] and b.prompt[1].channel == "final"


def test_without_matplotlib_the_benchmark_stops_before_running_and_says_what_to_install(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    out = tmp_path / "effort.json"
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--efforts", "low", "--n", "1", "--sets", "none", "--out", str(out), "--device", "cpu"])
    assert stopped.value.code == 2 and not out.exists()
    assert "matplotlib, which is not installed: pip install -e '.[bench]'" in capsys.readouterr().err


def test_well_formed_turns_runs_to_the_token_limit_and_chit_chat_without_a_tool_are_counted():
    rows = [row(kind="chat", tool_calls=0), row(kind="chat"), row(kind="out_of_domain", tool_calls=0),
            row(kind="arithmetic", status="length", correct=False), row(kind="arithmetic")]
    summary = bench.summarise(rows)
    assert summary["well_formed"] == 0.8 and summary["ended_by_length"] == 1
    assert summary["chit_chat_without_tool_call"] == round(2 / 3, 4)
    assert bench.summarise([row(kind="arithmetic")])["chit_chat_without_tool_call"] is None


def test_the_sets_chart_is_drawn(tmp_path):
    summary = {"low": bench.summarise([row()]), "high": bench.summarise([row(correct=False)])}
    bench.sets_chart({"in-template": summary, "first-messages": summary}, tmp_path / "s.png", "t")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_set_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--sets", "everything", "--out", str(tmp_path / "e.json"), "--device", "cpu"])
    assert stopped.value.code == 2 and "sets must be among held-out-wordings" in capsys.readouterr().err
