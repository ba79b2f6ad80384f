"""The harmony lint per model (usage_stats.lint_by_model), which the usage page charts and the
turn admin shows above its list: every turn counts for its model, a linted one (clean or not)
as linted, one with findings as flagged, and once for each code it has, however many findings
of that code; codes come in inference.lint.CODES order, any other after them. (The figures of
crafted usage turns, on SQLite and PostgreSQL: tests/test_usage_stats.py.)"""

import pytest

from tests.factories import lint_finding, stored_turn
from webapp.chat.models import Turn
from webapp.chat.usage_stats import lint_by_model

pytestmark = pytest.mark.django_db


def test_turns_are_counted_once_per_code_and_codes_follow_the_checks_order(ada):
    for lint in ([lint_finding("missing_stop", 3), lint_finding("unparsed_text", 0),
                  lint_finding("unparsed_text", 2)],
                 [lint_finding("unparsed_text", 1)], [], None):
        stored_turn(ada, model="gpt-oss-20b", status="completed", lint=lint)
    assert lint_by_model(Turn.objects.all()) == {
        "codes": ["unparsed_text", "missing_stop"],
        "rows": [{"model": "gpt-oss-20b", "turns": 4, "linted": 3, "flagged": 2, "counts": [2, 1]}]}


def test_a_model_with_no_linted_turn_is_listed_with_none_linted(ada):
    stored_turn(ada, model="gpt-oss-nano", status="cancelled", lint=None)
    stored_turn(ada, model="gpt-oss-20b", status="completed", lint=[])
    assert lint_by_model(Turn.objects.all()) == {"codes": [], "rows": [
        {"model": "gpt-oss-20b", "turns": 1, "linted": 1, "flagged": 0, "counts": []},
        {"model": "gpt-oss-nano", "turns": 1, "linted": 0, "flagged": 0, "counts": []}]}


def test_a_turn_without_a_model_and_a_code_of_no_check_come_last(ada):
    stored_turn(ada, model="", status="completed", lint=[{"message": "no code"}, lint_finding("zz_retired")])
    stored_turn(ada, model="gpt-oss-20b", status="completed", lint=[lint_finding("no_final")])
    assert lint_by_model(Turn.objects.all()) == {
        "codes": ["no_final", "unknown", "zz_retired"],
        "rows": [{"model": "gpt-oss-20b", "turns": 1, "linted": 1, "flagged": 1, "counts": [1, 0, 0]},
                 {"model": "unknown", "turns": 1, "linted": 1, "flagged": 1, "counts": [0, 1, 1]}]}


def test_no_turns_no_rows():
    assert lint_by_model(Turn.objects.none()) == {"codes": [], "rows": []}
