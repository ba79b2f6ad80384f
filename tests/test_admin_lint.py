"""Staff find turns by their harmony lint in the admin: the turn list filters not linted,
clean, with findings and by code, and is headed by a per-model summary; a turn's page lists
its findings. Run on SQLite and again on PostgreSQL (the code filter reads the stored JSON's
text, which each database writes itself)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from postgres_rerun import rerun_on_postgresql
from webapp.chat.models import Conversation, Turn

pytestmark = pytest.mark.django_db

ON_ANALYSIS = {"code": "call_on_analysis", "index": 1,
               "message": "call to functions.calculator on the analysis channel"}
NO_FINAL = {"code": "no_final", "index": None, "message": "the turn ended completed without a final message"}


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-1234"))
    return client


@pytest.fixture
def turns(make_user):
    conversation = Conversation.objects.create(user=make_user("ada"), title="t")

    def turn(text, model, lint):
        return Turn.objects.create(conversation=conversation, user_text=text, effort="low",
                                   status="completed", model=model, lint=lint)
    return {
        "unlinted": turn("never linted", "gpt-oss-20b", None),
        "clean": turn("all clean", "gpt-oss-20b", []),
        "analysis": turn("called on analysis", "gpt-oss-20b", [ON_ANALYSIS]),
        "both": turn("two problems", "gpt-oss-120b", [ON_ANALYSIS, NO_FINAL]),
    }


def listed(client, query="") -> set[str]:
    page = client.get(f"/admin/chat/turn/{query}")
    assert page.status_code == 200
    html = page.content.decode()
    if 'id="result_list"' not in html:
        return set()  # the admin shows no table for an empty list
    body = html.split('id="result_list"', 1)[1]
    return {text for text in ("never linted", "all clean", "called on analysis", "two problems")
            if text in body}


@pytest.mark.parametrize("query, expected", [
    ("", {"never linted", "all clean", "called on analysis", "two problems"}),
    ("?lint=none", {"never linted"}),
    ("?lint=clean", {"all clean"}),
    ("?lint=findings", {"called on analysis", "two problems"}),
    ("?lint=code:call_on_analysis", {"called on analysis", "two problems"}),
    ("?lint=code:no_final", {"two problems"}),
    ("?lint=code:missing_stop", set()),
])
def test_the_turn_list_filters_by_lint(staff_client, turns, query, expected):
    assert listed(staff_client, query) == expected


def test_the_filter_offers_every_code(staff_client, turns):
    page = staff_client.get("/admin/chat/turn/").content.decode()
    assert "By harmony lint" in page
    for choice in ("not linted", "clean", "with findings", "?lint=code%3Ano_final", "?lint=code%3Abad_recipient"):
        assert choice in page


def summary_rows(page: str) -> dict[str, list[str]]:
    """The per-model summary table: model -> its cells, and "" -> the header."""
    table = page.split('class="results lint-summary"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows["" if cells[0] == "Model" else cells[0]] = cells[1:]
    return rows


def test_the_turn_list_is_headed_by_the_lint_per_model(staff_client, turns):
    rows = summary_rows(staff_client.get("/admin/chat/turn/").content.decode())
    assert rows[""] == ["Turns", "Linted", "With findings", "call_on_analysis", "no_final"]
    assert rows["gpt-oss-20b"] == ["3", "2", "1", "1", "0"]
    assert rows["gpt-oss-120b"] == ["1", "1", "1", "1", "1"]
    filtered = summary_rows(staff_client.get("/admin/chat/turn/?lint=clean").content.decode())
    assert filtered == {"": ["Turns", "Linted", "With findings"], "gpt-oss-20b": ["1", "1", "0"]}


def test_the_turn_page_lists_its_findings(staff_client, turns):
    page = staff_client.get(f"/admin/chat/turn/{turns['both'].id}/change/").content.decode()
    assert "Harmony lint" in page
    assert "<td>#1</td><td><code>call_on_analysis</code></td>" in page
    assert "<td>turn</td><td><code>no_final</code></td>" in page
    assert "the turn ended completed without a final message" in page
    clean = staff_client.get(f"/admin/chat/turn/{turns['clean'].id}/change/").content.decode()
    assert "clean: no findings" in clean
    unlinted = staff_client.get(f"/admin/chat/turn/{turns['unlinted'].id}/change/").content.decode()
    assert "not linted yet" in unlinted
    listing = staff_client.get("/admin/chat/turn/").content.decode()
    assert "2 findings" in listing and "1 finding<" in listing


def test_the_admin_lint_on_postgresql():
    rerun_on_postgresql(__file__, passed=10, name="admin_lint")
