"""The clock tells the current time in UTC or an IANA zone; unknown zones are error text."""

import datetime as dt

from inference.tools import registry
from inference.tools.clock import Clock

FIXED = dt.datetime(2025, 6, 1, 12, 3, 22, tzinfo=dt.timezone.utc)


def test_default_is_utc():
    assert Clock(now=lambda: FIXED).run({}) == "2025-06-01 12:03:22 Sunday, UTC (UTC+00:00)"


def test_iana_zone_converts_with_daylight_saving():
    clock = Clock(now=lambda: FIXED)
    assert clock.run({"timezone": "Europe/Paris"}) == "2025-06-01 14:03:22 Sunday, Europe/Paris (UTC+02:00)"
    assert clock.run({"timezone": "Asia/Seoul"}).startswith("2025-06-01 21:03:22 Sunday")
    assert clock.run({"timezone": "America/St_Johns"}).endswith("(UTC-02:30)")


def test_unknown_zone_is_error_text():
    clock = Clock(now=lambda: FIXED)
    assert clock.run({"timezone": "Mars/Olympus"}).startswith("error: unknown time zone 'Mars/Olympus'")
    assert clock.run({"timezone": "../../etc/passwd"}).startswith("error: ")
    assert clock.run({"timezone": 3}) == "error: 'timezone' must be a string"


def test_registered_clock_reads_the_real_time():
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    text = registry.get("clock").run({"timezone": "UTC"})
    told = dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
    assert before - dt.timedelta(seconds=1) <= told <= before + dt.timedelta(seconds=5)


def test_declaration_has_an_optional_timezone():
    decl = registry.get("clock").declaration()
    assert decl.name == "clock"
    assert "timezone" in decl.parameters["properties"]
    assert "required" not in decl.parameters
