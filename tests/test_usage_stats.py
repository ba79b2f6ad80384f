"""The usage figures from crafted stored turns (tests/factories.py USAGE_TURNS): tokens per
channel per day, median TTFT and decode speed per model and engine (odd and even counts, figures
that are null), the effort mix, the harmony lint per model, and the model filter; turns not
finished, without metrics or outside the range are left out. Run on SQLite, and again on PostgreSQL (JSON key lookups)."""

import datetime

import pytest

from tests.factories import USAGE_LINT, store_usage_turns
from tests.postgres_rerun import rerun_on_postgresql
from webapp.chat import usage_stats

pytestmark = pytest.mark.django_db
MARCH_1, MARCH_5 = datetime.date(2020, 3, 1), datetime.date(2020, 3, 5)


@pytest.fixture
def figures(ada):
    store_usage_turns(ada)
    return usage_stats.usage(MARCH_1, MARCH_5)


def test_tokens_per_channel_are_summed_per_day_with_empty_days_kept(figures):
    assert figures["days"] == [
        {"day": "2020-03-01", "turns": 0, "analysis": 0, "commentary": 0, "final": 0},
        {"day": "2020-03-02", "turns": 2, "analysis": 110, "commentary": 20, "final": 80},
        {"day": "2020-03-03", "turns": 0, "analysis": 0, "commentary": 0, "final": 0},
        {"day": "2020-03-04", "turns": 4, "analysis": 114, "commentary": 5, "final": 82},
        {"day": "2020-03-05", "turns": 1, "analysis": 0, "commentary": 0, "final": 0},
    ]


def test_median_ttft_and_decode_speed_per_model_and_engine(figures):
    assert figures["speed"] == [
        # 100, 200, 400 ms and 30, 50, 70 tok/s: the middle ones
        {"model": "gpt-oss-20b", "engine": "vllm", "turns": 3, "ttft_ms": 200.0,
         "decode_tokens_per_s": 50.0},
        # 30 and 50 ms, 300 and 200 tok/s: the mean of the middle two
        {"model": "gpt-oss-nano", "engine": "transformers", "turns": 2, "ttft_ms": 40.0,
         "decode_tokens_per_s": 250.0},
        {"model": "gpt-oss-20b", "engine": "transformers", "turns": 1, "ttft_ms": 900.0,
         "decode_tokens_per_s": 12.0},
        # a failed turn that never produced a token, stored before engines were recorded
        {"model": "gpt-oss-nano", "engine": "unknown", "turns": 1, "ttft_ms": None,
         "decode_tokens_per_s": None},
    ]


def test_speed_groups_are_capped_to_the_busiest(figures, monkeypatch):
    monkeypatch.setattr(usage_stats, "MAX_SPEED_GROUPS", 1)
    speed = usage_stats.usage(MARCH_1, MARCH_5)["speed"]
    assert [(row["model"], row["engine"]) for row in speed] == [("gpt-oss-20b", "vllm")]


def test_effort_mix_per_model(figures):
    assert figures["efforts"] == [
        {"model": "gpt-oss-20b", "low": 1, "medium": 1, "high": 2},
        {"model": "gpt-oss-nano", "low": 1, "medium": 1, "high": 1},
    ]


def test_lint_per_model_counts_the_turns_linted_flagged_and_with_each_code(figures):
    # bad_recipient is only on turns outside the figures (paused, without metrics, February)
    assert figures["lint"] == USAGE_LINT


def test_the_model_filter_keeps_only_that_models_turns(ada):
    store_usage_turns(ada)
    nano = usage_stats.usage(MARCH_1, MARCH_5, model="gpt-oss-nano")
    assert [day["turns"] for day in nano["days"]] == [0, 0, 0, 2, 1]
    assert {row["model"] for row in nano["speed"] + nano["efforts"]} == {"gpt-oss-nano"}
    assert usage_stats.models_seen(MARCH_1, MARCH_5) == ["gpt-oss-20b", "gpt-oss-nano"]


def test_a_one_day_range_counts_that_whole_day(ada):
    store_usage_turns(ada)
    day = datetime.date(2020, 2, 29)  # the February turn, queued at 10:00 UTC
    assert usage_stats.usage(day, day)["days"] == [
        {"day": "2020-02-29", "turns": 1, "analysis": 500, "commentary": 0, "final": 500}]


def test_usage_figures_on_postgresql():
    rerun_on_postgresql(__file__, passed=7, name="usage_stats")
