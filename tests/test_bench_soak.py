"""`python -m inference.bench soak`: the real site (Daphne, a Celery worker, PostgreSQL, Redis)
under 3 simulated people for 20 s, who send turns, cancel some, send malformed frames and
reconnect mid-turn. No turn is lost: each one's socket got its turn.done or its stored status is
final; every malformed frame is answered by an error frame."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.live_stack import missing_services

ROOT = Path(__file__).resolve().parent.parent


def test_a_short_soak_loses_no_turn(tmp_path):
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    missing = missing_services(redis_url)
    if missing:
        message = "the soak starts the site, which needs " + " and ".join(missing)
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, "-m", "inference.bench", "soak", "--people", "3",
                           "--minutes", "0.34", "--turn-timeout", "20", "--out", str(out),
                           "--redis", redis_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["lost"] == 0 and report["without_turn_done_on_socket"] == 0, report
    assert report["turns_made"] == report["turns_sent"] > 0 and report["completed"] > 0, report
    assert all(report["by_action"].values()), f"every kind of turn was tried: {report['by_action']}"
    assert report["malformed_sent"] > 0, report
    assert report["malformed_answered"] == report["malformed_sent"], "each answered, socket open"
    assert report["connects"] > report["people"], "sockets were dropped and opened again"
    assert report["ttft_p95_ms"] is not None
