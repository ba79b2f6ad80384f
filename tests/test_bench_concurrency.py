"""`python -m inference.bench concurrency`: what it computes from the turns its clients saw (per
chat and per level), its table, chart and JSON shape, and its dispatch and refusals. The run
itself, through the real stack, is the README's "Serving many chats" (and tests/test_e2e_vllm.py
runs the same client against the same stack)."""

from __future__ import annotations

import pytest

from inference import bench, bench_concurrency as bc
from inference.live_stack import TurnRecord


def record(sent, first_text, done, tokens=10, texts=("think", "408"), status="completed"):
    frames = [
        {"type": "turn.queued", "turn_id": 7, "request_id": "r", "conversation_id": 1, "queue_position": 0},
        {"type": "turn.started", "turn_id": 7, "model": "m", "device": "cpu", "worker": "w"},
        {"type": "message.start", "turn_id": 7, "index": 0, "role": "assistant", "channel": "analysis",
         "recipient": None, "content_type": None},
        {"type": "message.delta", "turn_id": 7, "index": 0, "text": texts[0]},
        {"type": "message.start", "turn_id": 7, "index": 1, "role": "assistant", "channel": "final",
         "recipient": None, "content_type": None},
        {"type": "message.delta", "turn_id": 7, "index": 1, "text": texts[1]},
        {"type": "turn.done", "turn_id": 7, "status": status, "error": None,
         "metrics": {"queue_ms": 5.0, "ttft_ms": 20.0, "output_tokens": tokens, "total_ms": 90.0}},
    ]
    times = [sent + 0.001, sent + 0.002, first_text - 0.001, first_text, done - 0.01, done - 0.005, done]
    return TurnRecord(sent_at=sent, frames=frames, arrived=times)


def test_percentiles_interpolate_and_skip_missing_values():
    assert bc.percentile([1, 2, 3, 4], 50) == 2.5
    assert bc.percentile([10, None, 20], 95) == pytest.approx(19.5)
    assert bc.percentile([], 50) is None and bc.percentile([3], 95) == 3


def test_a_chat_row_has_the_clients_times_and_compares_the_messages_with_alone():
    reference = record(0.0, 0.05, 1.0)
    same = bc.chat_row(record(10.0, 10.1, 12.0), 10.0, reference)
    assert same["client_ttft_ms"] == 100.0 and same["total_ms"] == 2000.0 and same["finished_s"] == 2.0
    assert same["tok_s"] == 5.0 and same["queue_ms"] == 5.0 and same["ttft_ms"] == 20.0
    assert same["final"] == "408" and same["same_as_alone"] and same["status"] == "completed"
    other = bc.chat_row(record(10.0, 10.1, 12.0, texts=("think", "407")), 10.0, reference)
    assert not other["same_as_alone"]


def test_a_level_sums_tokens_over_the_wall_time_and_compares_finishes():
    reference = record(0.0, 0.05, 1.0)
    rows = [bc.chat_row(record(0.0, 0.1, end), 0.0, reference) for end in (2.0, 2.5, 3.0)]
    level = bc.level_summary(3, rows, wall_s=3.0, cpu={"worker": 1.25})
    assert level["output_tokens"] == 30 and level["aggregate_tok_s"] == 10.0
    assert level["last_over_first_finish"] == 1.5
    assert level["all_completed"] and level["all_same_as_alone"]
    assert level["ttft_ms_p50"] == 20.0 and level["client_ttft_ms_p95"] == 100.0
    assert level["cpu_s"] == {"worker": 1.2}


def test_the_report_has_a_table_a_markdown_table_and_a_chart(tmp_path):
    levels = []
    for n, agg in ((1, 90.0), (8, 450.0)):
        levels.append({"chats": n, "aggregate_tok_s": agg, "speedup": agg / 90, "per_chat_tok_s_p50": agg / n,
                       "ttft_ms_p50": 20.0, "ttft_ms_p95": 30.0, "client_ttft_ms_p95": 40.0,
                       "queue_ms_p50": 10.0, "queue_ms_p95": 12.0, "last_over_first_finish": 1.05,
                       "all_same_as_alone": n == 1})
    text = bc.table(levels)
    assert "agg tok/s" in text.splitlines()[0] and text.splitlines()[2].split()[-1] == "NO"
    md = bc.markdown_table(levels).splitlines()
    assert md[0].startswith("| chats | aggregate tok/s") and md[3].startswith("| 8 | 450.0 | 5.0 | 450.0 | 56.25 |")
    report = {"levels": levels, "model": "gpt-oss-nano", "engine": "vllm", "date": "2026-01-01",
              "machine": {"cpus": 2}}
    bc.chart(report, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_concurrency_is_dispatched_on_the_first_argument_and_checks_its_levels(capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["concurrency", "--chats", "0,4"])
    assert stopped.value.code == 2
    assert "--chats needs levels of at least 1" in capsys.readouterr().err


def test_without_redis_or_postgresql_it_stops_before_starting_anything(capsys, tmp_path):
    out = tmp_path / "c.json"
    with pytest.raises(SystemExit) as stopped:
        bench.main(["concurrency", "--chats", "1", "--redis", "redis://127.0.0.1:1/0",
                    "--postgres", "postgres://postgres@127.0.0.1:1", "--out", str(out)])
    assert stopped.value.code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "Redis at redis://127.0.0.1:1/0" in err and "PostgreSQL at postgres://postgres@127.0.0.1:1" in err


def test_a_level_reports_its_median_round_and_the_worst_of_every_round():
    rounds = [{"aggregate_tok_s": a, "all_same_as_alone": same, "all_completed": True,
               "last_over_first_finish": ratio}
              for a, same, ratio in ((300.0, True, 1.1), (250.0, True, 1.0), (400.0, False, 1.3))]
    level = bc.median_round(rounds)
    assert level["aggregate_tok_s"] == 300.0 and level["last_over_first_finish"] == 1.1
    assert level["rounds_aggregate_tok_s"] == [300.0, 250.0, 400.0]
    assert level["all_same_as_alone"] is False, "one chat of one round differed"
    assert level["last_over_first_finish_max"] == 1.3
    assert bc.median_round(rounds[:2])["aggregate_tok_s"] == 250.0, "the lower middle of two"


def test_the_vllm_engine_without_vllm_is_refused_before_anything_starts(capsys, monkeypatch):
    find_spec = bc.importlib.util.find_spec
    monkeypatch.setattr(bc.importlib.util, "find_spec",
                        lambda name, *a: None if name == "vllm" else find_spec(name, *a))
    with pytest.raises(SystemExit) as stopped:
        bench.main(["concurrency", "--engine", "vllm", "--chats", "1"])
    assert stopped.value.code == 2 and "--engine vllm needs vLLM" in capsys.readouterr().err


def test_the_ratio_to_one_chat_alone_is_taken_round_by_round():
    runs = {1: [{"aggregate_tok_s": a} for a in (100.0, 50.0, 80.0)],
            8: [{"aggregate_tok_s": a} for a in (500.0, 260.0, 300.0)]}
    levels = [{"chats": 1}, {"chats": 8}]
    bc.add_speedups(levels, runs)
    assert levels[1]["rounds_speedup"] == [5.0, 5.2, 3.75] and levels[1]["speedup"] == 5.0
    assert levels[0]["speedup"] == 1.0
    without_one = [{"chats": 8}]
    bc.add_speedups(without_one, {8: runs[8]})
    assert without_one[0]["speedup"] is None
