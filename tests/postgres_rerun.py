"""Running a test module again on PostgreSQL, the deployment's database.

The tests of a module run on the configured database (SQLite by default); the module's
PostgreSQL test calls `rerun_on_postgresql`, which runs the module again in a pytest subprocess
whose DATABASE_URL names a PostgreSQL database at 127.0.0.1:5432 (user postgres): pytest-django
creates its test database (test_<name>) and drops it afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
DSN = dict(host="127.0.0.1", port=5432, user="postgres")


def rerun(module: str, passed: int, env: dict, exclude: str, timeout: float = 600) -> str:
    """Run the tests of `module` whose names do not contain `exclude` in a pytest subprocess
    with `env` added; assert that exactly `passed` pass and none is skipped."""
    done = subprocess.run([sys.executable, "-m", "pytest", module, "-q", "-p", "no:cacheprovider",
                           "-k", f"not {exclude}"], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert f"{passed} passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
    return done.stdout


def rerun_on_postgresql(module: str, passed: int, name: str, exclude: str = "postgresql",
                        timeout: float = 600) -> str:
    """Run the tests of `module` whose names do not contain `exclude` on a fresh PostgreSQL
    database named after `name`; assert that exactly `passed` of them pass and none is skipped.
    On PostgreSQL already (the rerun itself) the calling test is skipped. Without a server the
    test is skipped, or fails where CI is set. Returns pytest's output."""
    if connection.vendor == "postgresql":
        pytest.skip("this is the PostgreSQL run")
    import psycopg2

    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **DSN).close()
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL at 127.0.0.1:5432 (user postgres) is needed ({exc})"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    database = f"gptoss_{name}_{uuid.uuid4().hex[:8]}"  # pytest-django makes test_<database>
    url = f"postgres://postgres@127.0.0.1:5432/{database}"
    return rerun(module, passed, {"DATABASE_URL": url}, exclude, timeout)
