"""A real site for end-to-end tests: Daphne on a free port, a Celery worker started with
docker-compose.yml's worker command (the embedded model unless told otherwise), a PostgreSQL database of its own and a Redis key prefix of its own. One is
started per test session (the `site` fixture in conftest.py) and shared by the end-to-end and
browser tests."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
PG = dict(host="127.0.0.1", port=5432, user="postgres")
QUESTION = "What is 12 * 34?"
PASSWORD = "e2e-pass-12345"
START_TIMEOUT_S = 180  # torch + transformers import and model load on a busy 2-core machine
TURN_TIMEOUT_S = 180


def nano_checkpoint() -> Path | None:
    from inference.nano.checkpoint import DEFAULT_PATH

    return DEFAULT_PATH if (DEFAULT_PATH / "nano.json").is_file() else None


def compose_worker_command() -> list[str]:
    """The worker command exactly as docker-compose.yml writes it (outside clients run it too)."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return list(compose["services"]["worker"]["command"])


def unavailable(what: str, exc: Exception):
    message = f"the end-to-end test needs {what} ({exc}); .ci/run starts it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout, what, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tails = "\n".join(f"--- {p.name}:\n{p.read_text()[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"{what} did not happen within {timeout} s\n{tails}")


def http_ok(url) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def server_sql(sql):
    """CREATE/DROP DATABASE: outside any transaction."""
    conn = psycopg2.connect(dbname="postgres", **PG)
    try:
        conn.autocommit = True
        conn.cursor().execute(sql)
    finally:
        conn.close()


class Site:
    """Daphne + a Celery worker + their database and Redis prefix, started for this module."""

    def __init__(self, tmp: Path, model_dir: Path | None):
        self.tmp = tmp
        self.db_name = f"gptoss_e2e_{uuid.uuid4().hex[:8]}"
        self.prefix = f"gptoss-e2e-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis_url = os.environ["REDIS_URL"]
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.db_name}",
            "REDIS_URL": self.redis_url, "REDIS_KEY_PREFIX": self.prefix,
            "SECRET_KEY": "e2e-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
        }
        if model_dir is not None:
            self.env["GPTOSS_MODEL"] = str(model_dir)
        else:
            self.env.pop("GPTOSS_MODEL", None)  # the embedded nano model
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, timeout=300)

    def spawn(self, name, *args) -> Path:
        log = self.tmp / f"{name}.log"
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=self.env, stdout=log.open("w"),
            stderr=subprocess.STDOUT))
        return log

    def start(self):
        server_sql(f'CREATE DATABASE "{self.db_name}"')
        self.manage("migrate", "--no-input")
        self.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                    f"get_user_model().objects.create_user('e2e', password='{PASSWORD}')")
        worker_log = self.spawn("worker", *compose_worker_command(), "-n", f"{self.prefix}@%h",
                                "--without-mingle", "--without-gossip")
        daphne_log = self.spawn("daphne", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                                "webapp.asgi:application")
        self.logs = [worker_log, daphne_log]
        wait_for(lambda: http_ok(self.base + "/accounts/login/"), START_TIMEOUT_S, "Daphne start",
                 self.logs)
        wait_for(lambda: " ready." in worker_log.read_text(), START_TIMEOUT_S,
                 "Celery worker start", self.logs)

    def stop(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        try:
            server_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            client = redis.Redis.from_url(self.redis_url)
            for name in client.scan_iter(f"{self.prefix}:*"):
                client.delete(name)

    def query(self, sql, *params):
        with psycopg2.connect(dbname=self.db_name, **PG) as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        conn.close()
        return rows

    def login(self) -> str:
        """A real login: the form's CSRF token, a POST, the session cookie it sets."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(self.base + "/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "e2e", "password": PASSWORD,
                                       "csrfmiddlewaretoken": token}).encode()
        opener.open(urllib.request.Request(self.base + "/accounts/login/", data=form,
                                           headers={"Referer": self.base + "/accounts/login/"}))
        cookies = {c.name: c.value for c in jar}
        assert "sessionid" in cookies, "the login form logged the user in"
        return cookies["sessionid"]


def started_site(tmp_path_factory):
    """Starts a Site (skips, or fails on CI, where Redis or PostgreSQL is missing), yields it,
    stops it."""
    try:
        redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {os.environ['REDIS_URL']}", exc)
    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **PG).close()
    except psycopg2.OperationalError as exc:
        unavailable("PostgreSQL at 127.0.0.1:5432 (user postgres)", exc)
    tmp = tmp_path_factory.mktemp("e2e")
    model_dir = None
    if nano_checkpoint() is None:
        from tests.tiny_gptoss import tiny_gptoss

        model_dir = tmp / "tiny-gptoss"
        tiny_gptoss().save_pretrained(model_dir)
    site = Site(tmp, model_dir)
    try:
        site.start()
        yield site
    finally:
        site.stop()
