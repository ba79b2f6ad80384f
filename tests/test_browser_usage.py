"""The usage page on the live site (Daphne, PostgreSQL) in Debian's chromium: a staff user signs
in through the admin's login and the page draws its charts from the stored turns of
tests/factories.py USAGE_TURNS — the figures each chart holds are the stored ones, the harmony
lint's as its table counts them — with no
serious accessibility violation. The screenshots are kept in tests/artifacts/ (usage.png, and
usage-phone.png at a phone's width)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import ARTIFACTS, assert_accessible

STAFF = "usage-staff"
# Run by the site's manage.py shell against its database: a staff user and the crafted turns.
STORE = """
from django.contrib.auth import get_user_model
from tests.factories import store_usage_turns
user = get_user_model().objects.create_user({name!r}, password={password!r}, is_staff=True)
store_usage_turns(user)
"""
MARCH = "/usage/?since=2020-03-01&until=2020-03-05"
DRAWN = "(id) => Chart.getChart(id).data.datasets.map((d) => [d.label, d.data])"


def test_the_usage_page_draws_its_charts_from_stored_turns(site, browser_page):
    site.manage("shell", "-c", STORE.format(name=STAFF, password=site.password))
    page = browser_page
    page.goto(site.base + MARCH)
    assert "/admin/login/" in page.url  # staff only: the admin's login first
    page.fill("input[name=username]", STAFF)
    page.fill("input[name=password]", site.password)
    page.click("input[type=submit]")
    page.wait_for_url(site.base + MARCH)
    expect(page.locator("#usage-range")).to_have_text(
        "7 finished turns from 1 Mar 2020 to 5 Mar 2020.")
    page.wait_for_function("() => ['chart-tokens', 'chart-ttft', 'chart-speed', 'chart-effort', 'chart-lint']"
                           ".every((id) => Chart.getChart(id))")

    assert page.evaluate(DRAWN, "chart-tokens") == [
        ["analysis", [0, 110, 0, 114, 0]], ["commentary", [0, 20, 0, 5, 0]],
        ["final", [0, 80, 0, 82, 0]]]
    groups = [["gpt-oss-20b", "vllm"], ["gpt-oss-nano", "transformers"],
              ["gpt-oss-20b", "transformers"], ["gpt-oss-nano", "unknown"]]
    assert page.evaluate("Chart.getChart('chart-ttft').data.labels") == groups
    assert page.evaluate(DRAWN, "chart-ttft") == [["median TTFT (ms)", [200, 40, 900, None]]]
    assert page.evaluate(DRAWN, "chart-speed") == [["median decode (tok/s)", [50, 250, 12, None]]]
    assert page.evaluate("Chart.getChart('chart-effort').data.labels") == ["gpt-oss-20b", "gpt-oss-nano"]
    assert page.evaluate(DRAWN, "chart-effort") == [
        ["low", [1, 1]], ["medium", [1, 1]], ["high", [2, 1]]]
    # the harmony lint: per check, the share (%) of each model's linted turns with its finding
    assert page.evaluate("Chart.getChart('chart-lint').data.labels") == ["gpt-oss-20b", "gpt-oss-nano"]
    assert page.evaluate(DRAWN, "chart-lint") == [
        ["call_on_analysis", [66.7, 0]], ["no_final", [33.3, 0]], ["missing_stop", [0, 50]]]
    # drawn, not only configured: the canvas has coloured pixels
    assert page.evaluate("""() => {
      const canvas = document.getElementById('chart-tokens');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      return pixels.some((value, i) => i % 4 === 3 && value > 0);
    }""")

    page.click("section[aria-labelledby=tokens-head] summary")  # the table equivalent opens
    expect(page.locator("section[aria-labelledby=tokens-head] tbody tr").nth(1)).to_have_text(
        "2020-03-0221102080")
    lint_table = page.locator("#lint-section tr")
    page.click("#lint-section summary")  # its table counts the turns
    expect(lint_table).to_have_text([
        "ModelTurnsLintedWith findingscall_on_analysisno_finalmissing_stop",
        "gpt-oss-20b432210", "gpt-oss-nano321001"])
    assert_accessible(page)
    page.click("section[aria-labelledby=tokens-head] summary")
    page.click("#lint-section summary")
    page.screenshot(path=str(ARTIFACTS / "usage.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column
    page.wait_for_function("() => Chart.getChart('chart-speed').width < 390")  # redrawn to fit
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "usage-phone.png"), full_page=True)
