"""Lint findings per model for the usage page, from rows as plain dicts (`model`, `lint`):
a turn not linted (null) is not counted, a clean one ([]) counts as linted and clean, and the
findings of the others are counted in all and by code."""

from webapp.chat.usage_stats import lint_by_model


def finding(code, index=0):
    return {"code": code, "message": f"{code} at message {index}", "index": index}


def test_findings_are_counted_per_model_and_code():
    rows = [
        {"model": "gpt-oss-20b", "lint": [finding("tool_call_on_analysis"), finding("no_final", 2)]},
        {"model": "gpt-oss-20b", "lint": [finding("tool_call_on_analysis", 1)]},
        {"model": "gpt-oss-20b", "lint": []},
        {"model": "gpt-oss-nano", "lint": []},
    ]
    assert lint_by_model(rows) == [
        {"model": "gpt-oss-20b", "linted": 3, "clean": 1, "findings": 3,
         "codes": {"tool_call_on_analysis": 2, "no_final": 1}},
        {"model": "gpt-oss-nano", "linted": 1, "clean": 1, "findings": 0, "codes": {}},
    ]


def test_turns_not_linted_are_left_out():
    rows = [{"model": "gpt-oss-20b", "lint": None}, {"model": "gpt-oss-nano", "lint": None},
            {"model": "gpt-oss-nano", "lint": [finding("stop_missing")]}]
    assert lint_by_model(rows) == [{"model": "gpt-oss-nano", "linted": 1, "clean": 0,
                                    "findings": 1, "codes": {"stop_missing": 1}}]


def test_a_finding_without_a_code_and_a_turn_without_a_model_are_labelled_unknown():
    rows = [{"model": "", "lint": [{"message": "?"}]}]
    assert lint_by_model(rows) == [{"model": "unknown", "linted": 1, "clean": 0, "findings": 1,
                                    "codes": {"unknown": 1}}]


def test_no_rows_no_models():
    assert lint_by_model(iter(())) == []
