"""End to end, every part real: PostgreSQL shared by the processes, Redis (broker, channel
layer, frame logs), a Celery worker (solo pool) running the embedded gpt-oss-nano model, Daphne
on a free port, and a WebSocket client that logs in through the login form.

It asks "What is 12 * 34?" at high effort with the built-in tools and checks the stream
(queued, started, analysis, a calculator call on commentary, its result, final, turn.done with
every metric), that the database then holds the turn with the same text per message as streamed, and
that a second socket subscribing mid-turn receives exactly the same frames.

Without the trained nano checkpoint (inference/nano/checkpoint/) it runs the same plumbing on a
tiny random GptOss, whose output is noise: the channel assertions then do not apply.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
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
import websockets

from inference import events
from inference.tools import registry

ROOT = Path(__file__).resolve().parent.parent
PG = dict(host="127.0.0.1", port=5432, user="postgres")
QUESTION = "What is 12 * 34?"
PASSWORD = "e2e-pass-12345"
START_TIMEOUT_S = 180  # torch + transformers import and model load on a busy 2-core machine
TURN_TIMEOUT_S = 180


def nano_checkpoint() -> Path | None:
    from inference.nano.checkpoint import DEFAULT_PATH

    return DEFAULT_PATH if (DEFAULT_PATH / "nano.json").is_file() else None


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
        worker_log = self.spawn(
            "worker", "celery", "-A", "webapp", "worker", "-Q", "gpu", "--pool=solo",
            "--concurrency=1", "-n", f"{self.prefix}@%h", "--without-mingle", "--without-gossip",
            "--loglevel=INFO")
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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
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


async def receive_turn(ws, timeout=TURN_TIMEOUT_S) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] != "turn.done":
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        assert frames[-1]["type"] != "error", frames[-1]
    return frames


def connect(site, session):
    return websockets.connect(site.base.replace("http", "ws") + "/ws/chat/", origin=site.base,
                              additional_headers={"Cookie": f"sessionid={session}"})


async def turn_with_a_follower(site, session, settings):
    """Socket A asks the question; as soon as the worker has started, socket B subscribes to
    the same turn. Returns both sockets' frames."""
    async with connect(site, session) as a, connect(site, session) as b:
        await a.send(json.dumps({
            "type": "turn.create", "request_id": "e2e-1", "conversation_id": None,
            "text": QUESTION, "effort": "high", "settings": settings}))
        seen = [json.loads(await asyncio.wait_for(a.recv(), TURN_TIMEOUT_S)) for _ in range(2)]
        assert [f["type"] for f in seen] == ["turn.queued", "turn.started"], seen
        await b.send(json.dumps({"type": "turn.subscribe", "turn_id": seen[0]["turn_id"]}))
        frames_a = seen + await receive_turn(a)
        frames_b = await receive_turn(b)
    return frames_a, frames_b


def texts(frames) -> dict[int, str]:
    out = {}
    for f in frames:
        if f["type"] == "message.start":
            out[f["index"]] = ""
        elif f["type"] == "message.delta":
            out[f["index"]] += f["text"]
    return out


@pytest.fixture(scope="module")
def streamed(site):
    """One turn, asked once for the tests below: both sockets' frames and the stored rows."""
    settings = {"builtin_tools": ["calculator", "clock"]}  # the chat page's default
    if nano_checkpoint() is None:
        settings["max_output_tokens"] = 100  # a random model never stops by itself
    started = time.monotonic()
    frames, follower = asyncio.run(turn_with_a_follower(site, site.login(), settings))
    print(f"\ne2e turn: {frames[-1]['status']} in {time.monotonic() - started:.1f} s wall; "
          f"metrics {frames[-1]['metrics']}")
    turn_id = frames[0]["turn_id"]
    [turn_row] = site.query("SELECT status, metrics, error FROM chat_turn WHERE id = %s", turn_id)
    rows = site.query("SELECT index, text, tokens, channel, recipient, call_id, tool_ms, "
                      "jsonb_array_length(token_ids) FROM chat_message WHERE turn_id = %s "
                      "ORDER BY index", turn_id)
    return frames, follower, turn_row, rows


def test_a_turn_streams_through_daphne_celery_and_redis_and_is_stored(site, streamed):
    frames, follower, turn_row, rows = streamed
    queued, first, done = frames[0], frames[1], frames[-1]
    assert queued["request_id"] == "e2e-1" and isinstance(queued["queue_position"], int)
    assert isinstance(queued["conversation_id"], int)
    assert first["type"] == "turn.started" and first["model"] and first["device"] == "cpu"
    assert first["worker"].startswith(site.prefix)
    assert done["type"] == "turn.done"
    assert set(events.METRIC_KEYS) <= set(done["metrics"])
    published = frames[1:]
    assert [f["seq"] for f in published] == list(range(len(published))), "in order, none lost"

    # the follower got the turn from its start: the log so far, then live, nothing twice
    # (or, if the turn ended before it subscribed, the stored turn)
    assert follower[0]["type"] == "turn.queued" and follower[0]["turn_id"] == queued["turn_id"]
    if all("seq" in f for f in follower[1:]):
        print("follower caught up from the frame log, then live")
        assert follower[1:] == published
    else:
        print("follower subscribed after the end: it got the stored turn")
        assert texts(follower) == texts(frames)
        assert (follower[-1]["status"], follower[-1]["metrics"]) == (done["status"], done["metrics"])

    # the database holds what was streamed
    assert turn_row == (done["status"], done["metrics"], done["error"])
    assert {r[0]: r[1] for r in rows} == texts(frames)
    ends = {f["index"]: f["tokens"] for f in frames if f["type"] == "message.end"}
    assert {r[0]: r[2] for r in rows} == ends
    assert all(r[7] == r[2] for r in rows), "token ids stored for every message"


@pytest.mark.skipif(nano_checkpoint() is None, reason="needs the trained nano checkpoint in "
                    "inference/nano/checkpoint/ (a random model emits no channels)")
def test_the_nano_model_thinks_calls_the_calculator_and_answers(streamed):
    frames, _, _, rows = streamed
    done = frames[-1]
    channels = [(f["channel"], f["recipient"]) for f in frames if f["type"] == "message.start"]
    assert ("analysis", None) in channels
    assert ("commentary", "functions.calculator") in channels
    assert ("final", None) in channels
    [call] = [f for f in frames if f["type"] == "tool.call"]
    [result] = [f for f in frames if f["type"] == "tool.result"]
    assert call["name"] == result["name"] == "calculator" and call["call_id"] == result["call_id"]
    # the server ran the calculator on the model's arguments (whether the model copied the
    # operands right is the nano model's accuracy, measured by its benchmark)
    assert result["output"] == registry.get("calculator").run(call["arguments"])
    assert result["ms"] >= 0
    assert any(r[1].strip() for r in rows if r[3] == "final")
    assert done["status"] == "completed" and done["error"] is None
    m = done["metrics"]
    assert m["effort"] == "high" and m["tool_calls"] == 1 and m["est_flops"] > 0
    assert all(m["tokens_by_channel"][c] > 0 for c in ("analysis", "commentary", "final"))
    for key in ("queue_ms", "prefill_ms", "ttft_ms", "time_to_final_ms", "total_ms",
                "prompt_tokens", "output_tokens", "tool_ms", "decode_tokens_per_s"):
        assert m[key] is not None and m[key] >= 0, key
    [call_row] = [r for r in rows if r[4] == "functions.calculator"]
    [answer_row] = [r for r in rows if r[5] == call["call_id"] and r[0] != call_row[0]]
    assert call_row[5] == call["call_id"]
    assert answer_row[1] == result["output"] and answer_row[6] is not None
