"""The real site as processes, for the end-to-end tests and the concurrency benchmark: Daphne on
a free port, one Celery worker started with docker-compose.yml's worker command, a PostgreSQL
database and a Redis key prefix of their own; and a small WebSocket client that logs in through
the login form and runs turns, many at once if asked.

Nothing here imports the web stack: the site is its processes (`manage.py`, `celery`, `daphne`,
started by command line), so this module stays inside the framework-free `inference` package.
The database is made, migrated and dropped by `manage.py` subprocesses.

    stack = LiveStack(Path("/tmp/run"), users=["ada"], env={"GPTOSS_ENGINE": "vllm"})
    stack.start()                      # StackError, with the logs' tails, if a part does not
    try:
        session = stack.login("ada")
        record = asyncio.run(run_turn(stack, session, "What is 12 * 34?", effort="high"))
    finally:
        stack.stop()
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
from dataclasses import dataclass, field
from pathlib import Path

from .events import message_texts

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432"  # a server where this user may CREATE DATABASE
REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT_S = 240  # torch + transformers (or vLLM) import and model load on a busy 2-core machine
TURN_TIMEOUT_S = 180


class StackError(RuntimeError):
    """A part of the stack did not start (or a service it needs does not answer)."""


def compose_worker_command(root: Path = ROOT) -> list[str]:
    """The worker command exactly as docker-compose.yml writes it (outside clients run it too)."""
    import yaml

    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    return list(compose["services"]["worker"]["command"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int, probe: bytes = b"", expect: bytes = b"") -> bool:
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            if probe:
                s.sendall(probe)
                return s.recv(64).startswith(expect)
            return True
    except OSError:
        return False


def missing_services(redis_url: str = REDIS_URL, postgres_url: str = POSTGRES_URL) -> list[str]:
    """What the stack needs and does not find: Redis answering PING, PostgreSQL's port open."""
    missing = []
    r = urllib.parse.urlsplit(redis_url)
    if not _answers(r.hostname or "127.0.0.1", r.port or 6379, b"PING\r\n", b"+PONG"):
        missing.append(f"Redis at {redis_url}")
    p = urllib.parse.urlsplit(postgres_url)
    if not _answers(p.hostname or "127.0.0.1", p.port or 5432):
        missing.append(f"PostgreSQL at {postgres_url}")
    return missing


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# Run by `manage.py shell -c` against the server's `postgres` database (autocommit: CREATE and
# DROP DATABASE cannot run in a transaction). Strings, not imports: the web stack's own process.
CREATE_DB = "from django.db import connection; connection.cursor().execute('CREATE DATABASE \"{db}\"')"
SET_UP = """
from django.core.management import call_command
from django.contrib.auth import get_user_model
call_command("migrate", "--no-input", verbosity=0)
for name in {users!r}:
    get_user_model().objects.create_user(name, password={password!r})
"""
TEAR_DOWN = """
import redis
from django.conf import settings
from django.db import connection
connection.cursor().execute('DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
client = redis.Redis.from_url(settings.REDIS_URL)
for name in client.scan_iter(settings.REDIS_KEY_PREFIX + ":*"):
    client.delete(name)
"""


class LiveStack:
    """Daphne + a Celery worker + their database and Redis prefix. `env` is laid over the
    processes' environment (GPTOSS_ENGINE, GPTOSS_MAX_TURNS, VLLM_CPU_KVCACHE_SPACE,
    OMP_NUM_THREADS, CHAT_TURNS_PER_MINUTE, …); `model_dir` None runs the embedded model."""

    def __init__(self, workdir: Path, *, users=("e2e",), password: str = "e2e-pass-12345",
                 env: dict | None = None, model_dir: Path | None = None,
                 postgres_url: str = POSTGRES_URL, redis_url: str | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        self.workdir = Path(workdir)
        self.users, self.password = list(users), password
        tag = uuid.uuid4().hex[:8]
        self.db_name = f"gptoss_e2e_{tag}"
        self.prefix = f"gptoss-e2e-{tag}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.postgres_url = postgres_url.rstrip("/")
        self.redis_url = redis_url or os.environ.get("REDIS_URL") or REDIS_URL
        self.start_timeout_s = start_timeout_s
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{self.postgres_url}/{self.db_name}",
            "REDIS_URL": self.redis_url, "REDIS_KEY_PREFIX": self.prefix,
            "SECRET_KEY": "e2e-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
            "CHAT_SWEEPER": "1",  # as deployed (the test process itself turns it off)
            **(env or {}),
        }
        if model_dir is not None:
            self.env["GPTOSS_MODEL"] = str(model_dir)
        elif "GPTOSS_MODEL" not in (env or {}):
            self.env.pop("GPTOSS_MODEL", None)  # the embedded nano model
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.created = False

    # ---- processes ----

    def manage(self, *args, database: str | None = None) -> None:
        env = self.env if database is None else {**self.env,
                                                 "DATABASE_URL": f"{self.postgres_url}/{database}"}
        run = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise StackError(f"manage.py {args[0]} failed ({run.returncode}):\n{run.stderr[-3000:]}")

    def spawn(self, name: str, *args) -> Path:
        log = self.workdir / f"{name}.log"
        with log.open("w") as out:
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", *args], cwd=ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT))
        self.logs.append(log)
        return log

    def wait_for(self, check, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.3)
        raise StackError(f"{what} did not happen within {self.start_timeout_s} s (or a process "
                         f"exited)\n{self.tails()}")

    def tails(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {p.name}:\n{p.read_text()[-chars:]}" for p in self.logs if p.exists())

    def start(self) -> "LiveStack":
        missing = missing_services(self.redis_url, self.postgres_url)
        if missing:
            raise StackError("not answering: " + ", ".join(missing))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.manage("shell", "-c", CREATE_DB.format(db=self.db_name), database="postgres")
        self.created = True
        self.manage("shell", "-c", SET_UP.format(users=self.users, password=self.password))
        worker_log = self.spawn("worker", *compose_worker_command(), "-n", f"{self.prefix}@%h",
                                "--without-mingle", "--without-gossip")
        self.spawn("daphne", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                   "webapp.asgi:application")
        self.wait_for(lambda: http_ok(self.base + "/accounts/login/"), "Daphne start")
        self.wait_for(lambda: " ready." in worker_log.read_text(), "Celery worker start")
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.created:
            self.manage("shell", "-c", TEAR_DOWN.format(db=self.db_name), database="postgres")
            self.created = False

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    # ---- clients ----

    def login(self, username: str | None = None) -> str:
        """A real login: the form's CSRF token, a POST, the session cookie it sets."""
        username = username or self.users[0]
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(self.base + "/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": self.password,
                                       "csrfmiddlewaretoken": token}).encode()
        opener.open(urllib.request.Request(self.base + "/accounts/login/", data=form,
                                           headers={"Referer": self.base + "/accounts/login/"}))
        cookies = {c.name: c.value for c in jar}
        if "sessionid" not in cookies:
            raise StackError(f"the login form did not log {username} in")
        return cookies["sessionid"]

    def connect(self, session: str):
        """An open-able WebSocket of the logged-in session (`async with stack.connect(s) as ws`)."""
        import websockets

        return websockets.connect(self.base.replace("http", "ws", 1) + "/ws/chat/", origin=self.base,
                                  additional_headers={"Cookie": f"sessionid={session}"},
                                  max_size=None)


# ---- turns ----

@dataclass
class TurnRecord:
    """One turn as a client saw it: every frame with its arrival time (perf_counter seconds)."""

    sent_at: float = 0.0
    frames: list = field(default_factory=list)
    arrived: list = field(default_factory=list)

    def first(self, kind: str) -> dict | None:
        return next((f for f in self.frames if f["type"] == kind), None)

    def at(self, kind: str) -> float | None:
        return next((t for f, t in zip(self.frames, self.arrived) if f["type"] == kind), None)

    @property
    def turn_id(self) -> int | None:
        queued = self.first("turn.queued")
        return None if queued is None else queued["turn_id"]

    @property
    def done(self) -> dict | None:
        return self.frames[-1] if self.frames and self.frames[-1]["type"] == "turn.done" else None

    @property
    def status(self) -> str | None:
        return None if self.done is None else self.done["status"]

    @property
    def metrics(self) -> dict:
        return (self.done or {}).get("metrics") or {}

    def texts(self) -> dict[int, str]:
        return message_texts(self.frames)

    def channel_texts(self) -> list[tuple[str, str | None, str]]:
        """(channel, recipient, text) of each message, in order: what "the same answer" means."""
        starts = {f["index"]: f for f in self.frames if f["type"] == "message.start"}
        return [(starts[i]["channel"], starts[i]["recipient"], text)
                for i, text in sorted(self.texts().items())]

    def final(self) -> str:
        finals = [t for c, _, t in self.channel_texts() if c == "final"]
        return finals[-1] if finals else ""

    def client_ttft_ms(self) -> float | None:
        """From sending turn.create to the first streamed text (any channel)."""
        first = self.at("message.delta")
        return None if first is None else (first - self.sent_at) * 1000

    def total_ms(self) -> float | None:
        end = self.at("turn.done")
        return None if end is None else (end - self.sent_at) * 1000


async def receive_turn(ws, record: TurnRecord, timeout: float = TURN_TIMEOUT_S,
                       on_frame=None) -> TurnRecord:
    """Frames into `record` until turn.done (an `error` frame ends it too). `on_frame(frame)`
    may be a coroutine function, called on each frame as it arrives."""
    loop = asyncio.get_running_loop()
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        frame = json.loads(raw)
        record.frames.append(frame)
        record.arrived.append(loop.time())
        if on_frame is not None:
            await on_frame(frame)
        if frame["type"] in ("turn.done", "error"):
            return record


async def run_turn(ws, text: str, *, effort: str = "high", settings: dict | None = None,
                   request_id: str | None = None, conversation_id: int | None = None,
                   start: asyncio.Event | None = None, on_frame=None,
                   timeout: float = TURN_TIMEOUT_S) -> TurnRecord:
    """One turn on an open socket: waits for `start` (many clients then send at once), sends
    turn.create, collects the frames up to turn.done. Times are the loop's clock
    (`loop.time()`, monotonic seconds)."""
    if start is not None:
        await start.wait()
    record = TurnRecord()
    frame = {"type": "turn.create", "request_id": request_id or uuid.uuid4().hex[:12],
             "conversation_id": conversation_id, "text": text, "effort": effort}
    if settings is not None:
        frame["settings"] = settings
    record.sent_at = asyncio.get_running_loop().time()
    await ws.send(json.dumps(frame))
    return await receive_turn(ws, record, timeout, on_frame)
