"""A real site for end-to-end tests: `inference.live_stack.LiveStack` (Daphne on a free port, a
Celery worker started with docker-compose.yml's worker command, the embedded model unless told
otherwise, a PostgreSQL database and a Redis key prefix of its own) with pytest's wrapping: a
missing Redis or PostgreSQL skips (fails on CI), a part that does not start fails. One is started
per test session (the `site` fixture in conftest.py) and shared by the end-to-end and browser
tests; tests/test_e2e_vllm.py starts its own with the vLLM engine."""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg2
import pytest

from inference.live_stack import (POSTGRES_URL, TURN_TIMEOUT_S, LiveStack, StackError,  # noqa: F401
                                  missing_services)

QUESTION = "What is 12 * 34?"
PASSWORD = "e2e-pass-12345"


def nano_checkpoint() -> Path | None:
    from inference.nano.checkpoint import DEFAULT_PATH

    return DEFAULT_PATH if (DEFAULT_PATH / "nano.json").is_file() else None


def says_408(text: str) -> bool:
    """408 as a number of its own: not 1408, 4080, 408.5, -408 or 1,408."""
    return re.search(r"(?<![\d.,-])408(?!\d|[.,]\d)", text) is not None


def unavailable(what: str):
    message = f"the end-to-end test needs {what}; .ci/run starts it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Site(LiveStack):
    """The stack, and SQL on its database for checking what was stored."""

    def query(self, sql, *params):
        with psycopg2.connect(dbname=self.db_name, host="127.0.0.1", port=5432,
                              user="postgres") as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        conn.close()
        return rows


def started_site(tmp_path_factory, name: str = "e2e", env: dict | None = None,
                 redis_url: str | None = None):
    """Starts a Site (skips, or fails on CI, where Redis or PostgreSQL is missing), yields it,
    stops it. Without the trained nano checkpoint the worker runs a tiny random GptOss.
    `redis_url`: a Redis of the test's own (default: REDIS_URL)."""
    redis_url = redis_url or os.environ["REDIS_URL"]
    missing = missing_services(redis_url, POSTGRES_URL)
    if missing:
        unavailable(" and ".join(missing))
    tmp = tmp_path_factory.mktemp(name)
    model_dir = None
    if nano_checkpoint() is None:
        from tests.tiny_gptoss import tiny_gptoss

        model_dir = tmp / "tiny-gptoss"
        tiny_gptoss().save_pretrained(model_dir)
    site = Site(tmp, password=PASSWORD, env=env, model_dir=model_dir,
                redis_url=redis_url)
    try:
        try:
            site.start()
        except StackError as exc:
            pytest.fail(str(exc))
        yield site
    finally:
        site.stop()
