"""The usage page: staff only (anyone else is redirected to the admin's login and sees no
figure), its filter (the last 30 days by default; a bad date or range is a 400 that names the
problem and keeps what was typed), the figures' tables, the harmony lint's chart and table (a
note instead of the chart where no turn has a finding), and the links to it from the admin index and, for staff, the chat's top bar."""

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import store_usage_turns
from webapp.chat import usage_stats

pytestmark = pytest.mark.django_db
MARCH = "/usage/?since=2020-03-01&until=2020-03-05"


@pytest.fixture
def staff(make_user):
    user = make_user("root")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member(ada):
    client = Client()
    client.force_login(ada)
    return client


def page_data(response) -> dict:
    html = response.content.decode()
    tag = '<script id="page-data" type="application/json">'
    start = html.index(tag) + len(tag)
    return json.loads(html[start:html.index("</script>", start)])


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_anyone_but_staff_is_sent_to_the_admin_login(who, member, ada):
    store_usage_turns(ada)
    client = member if who == "member" else Client()
    response = client.get(MARCH)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/usage/%3Fsince%3D2020-03-01%26until%3D2020-03-05"
    followed = client.get(MARCH, follow=True).content.decode()
    assert "gpt-oss-20b" not in followed
    if who == "member":  # the admin's login says why
        assert "not authorized to access this page" in followed


def test_staff_see_the_figures_of_the_range_as_tables_and_page_data(staff, ada):
    store_usage_turns(ada)
    response = staff.get(MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "7 finished turns from 1 Mar 2020 to 5 Mar 2020." in html
    assert "<tr><th scope=\"row\">2020-03-02</th><td>2</td><td>110</td><td>20</td><td>80</td></tr>" in html
    assert "<tr><th scope=\"row\">gpt-oss-nano</th><td>transformers</td><td>2</td><td>40</td><td>250.0</td></tr>" in html
    assert "<tr><th scope=\"row\">gpt-oss-nano</th><td>unknown</td><td>1</td><td>–</td><td>–</td></tr>" in html
    assert "<tr><th scope=\"row\">gpt-oss-20b</th><td>1</td><td>1</td><td>2</td></tr>" in html
    assert page_data(response) == usage_stats.usage(datetime.date(2020, 3, 1), datetime.date(2020, 3, 5))
    for chart in ("chart-tokens", "chart-ttft", "chart-speed", "chart-effort", "chart-lint"):
        assert f'id="{chart}" role="img" aria-label=' in html
    assert 'src="/static/vendor/chart.js/dist/chart.umd.min.js"' in html


def test_the_model_filter_is_kept_selected(staff, ada):
    store_usage_turns(ada)
    html = staff.get(MARCH + "&model=gpt-oss-nano").content.decode()
    assert '<option value="gpt-oss-nano" selected>' in html and "3 finished turns" in html


def test_the_default_range_is_the_last_30_days(staff):
    html = staff.get("/usage/").content.decode()
    today = timezone.localdate()
    assert f'name="since" id="id_since" value="{today - datetime.timedelta(days=29):%Y-%m-%d}"' in html
    assert f'name="until" id="id_until" value="{today:%Y-%m-%d}"' in html
    assert "0 finished turns" in html
    assert "No finished turns in this range." in html


@pytest.mark.parametrize("query, message, kept", [
    ("since=2020-03-05&until=2020-03-01", "The start date is after the end date.", 'value="2020-03-05"'),
    ("since=2020-13-01", "From: Enter a valid date.", 'value="2020-13-01"'),
    ("since=2019-01-01&until=2020-03-01", "The range is 426 days; choose at most 366.", 'value="2019-01-01"'),
])
def test_a_bad_filter_is_a_400_that_says_why_and_keeps_the_input(staff, query, message, kept):
    response = staff.get(f"/usage/?{query}")
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html and kept in html
    assert 'id="page-data"' not in html and "chart-tokens" not in html


def test_the_lint_table_counts_turns_per_model_and_code(staff, ada):
    store_usage_turns(ada)
    html = staff.get(MARCH).content.decode()
    section = html.split('id="lint-section"', 1)[1].split("</section>", 1)[0]
    assert ('<th scope="col">With findings</th><th scope="col"><code>call_on_analysis</code></th>'
            '<th scope="col"><code>no_final</code></th><th scope="col"><code>missing_stop</code></th>') in section
    assert ('<tr><th scope="row">gpt-oss-20b</th><td>4</td><td>3</td><td>2</td>'
            '<td>2</td><td>1</td><td>0</td></tr>') in section
    assert ('<tr><th scope="row">gpt-oss-nano</th><td>3</td><td>2</td><td>1</td>'
            '<td>0</td><td>0</td><td>1</td></tr>') in section
    assert 'id="lint-none"' not in section


def test_a_range_without_findings_has_a_note_instead_of_the_lint_chart(staff, ada):
    store_usage_turns(ada)
    html = staff.get(MARCH + "&model=gpt-oss-nano&since=2020-03-05").content.decode()  # one failed turn, not linted
    section = html.split('id="lint-section"', 1)[1].split("</section>", 1)[0]
    assert 'id="chart-lint"' not in section
    assert "No lint findings in this range." in section
    assert '<tr><th scope="row">gpt-oss-nano</th><td>1</td><td>0</td><td>0</td></tr>' in section


def test_the_page_only_answers_get(staff):
    assert staff.post("/usage/").status_code == 405


def test_linked_from_the_admin_index_and_for_staff_only_from_the_chat(staff, member):
    assert 'href="/usage/"' in staff.get("/admin/").content.decode()
    assert 'href="/usage/"' in staff.get("/").content.decode()
    assert 'href="/usage/"' not in member.get("/").content.decode()
