"""Shared fixtures of the web app's tests: users, WebSocket clients of the real ASGI
application (origin check, session auth, consumer), and a private live state in Redis.

Tests talk to the real Redis of the machine, on the database TEST_REDIS_URL names
(pyproject.toml), under a key prefix of their own that is removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

SAME_ORIGIN = "http://localhost"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (offline vocabulary provisioning)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def keep_tiktoken_env(monkeypatch):
    """ensure_vocab points TIKTOKEN_ENCODINGS_BASE at its folder; restored after the test."""
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", os.environ.get("TIKTOKEN_ENCODINGS_BASE", ""))


@pytest.fixture
def make_user(db):
    def make(name="ada"):
        return get_user_model().objects.create_user(username=name, password=f"pw-{name}-1234")
    return make


@pytest.fixture
def ada(make_user):
    return make_user("ada")


@pytest.fixture
def staff_client(db):
    """A client logged in as a superuser (root), for the admin's pages."""
    admin = get_user_model().objects.create_superuser("root", password="pw-root-1234")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def live_state(settings):
    """A fresh key prefix for the frame logs, flags and counters of this test, and an
    in-process channel layer (the consumer and the test share one process)."""
    prefix = f"gptoss-test-{uuid.uuid4().hex[:10]}"
    settings.REDIS_KEY_PREFIX = prefix
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis at {settings.REDIS_URL} ({exc}); .ci/run starts it")
    yield prefix
    for name in client.scan_iter(f"{prefix}:*"):
        client.delete(name)


@pytest.fixture(scope="session", autouse=True)
def forget_queued_test_tasks():
    """Consumer tests queue real Celery tasks that no worker of theirs runs: drop them."""
    yield
    from django.conf import settings

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    try:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for name in client.scan_iter(f"{prefix}*"):
            client.delete(name)
    except redis.RedisError:
        pass  # nothing was queued where no Redis answered


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(user=None, origin: str | None = SAME_ORIGIN) -> WebsocketCommunicator:
    """A WebSocket client of the real application in webapp/asgi.py."""
    from webapp.asgi import application

    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        headers.append((b"cookie", f"sessionid={session_cookie(user)}".encode()))
    return WebsocketCommunicator(application, "/ws/chat/", headers=headers)


class Socket:
    """A chat socket of one user: open it, send frames (dicts, or raw text), receive frames."""

    def __init__(self, comm: WebsocketCommunicator):
        self.comm = comm

    async def open(self) -> bool:
        connected, _ = await self.comm.connect()
        return connected

    async def send(self, frame):
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict:
        return await self.comm.receive_json_from(timeout=timeout)

    async def nothing(self, timeout: float = 0.3) -> bool:
        """No frame arrives within `timeout` s: for checking that something does *not* come,
        never for deciding that what should come is over (`take`, `until_type`)."""
        return await self.comm.receive_nothing(timeout=timeout)

    async def take(self, count: int, deadline: float = 30) -> list[dict]:
        """The next `count` frames, however slowly they come (up to `deadline` s in all)."""
        return await self._until(lambda frames: len(frames) == count, deadline, f"{count} frames")

    async def until_type(self, kind: str, deadline: float = 30) -> list[dict]:
        """Frames up to and including the next one of type `kind` (up to `deadline` s in all)."""
        return await self._until(lambda frames: bool(frames) and frames[-1]["type"] == kind,
                                 deadline, f"a {kind} frame")

    async def _until(self, done, deadline: float, what: str) -> list[dict]:
        frames = []
        give_up = time.monotonic() + deadline
        while not done(frames):
            try:
                frames.append(await self.recv(timeout=max(give_up - time.monotonic(), 0.01)))
            except asyncio.TimeoutError:
                pytest.fail(f"waited {deadline} s for {what}; got {frames}")
        return frames

    async def close(self):
        await self.comm.disconnect()

    def exchange(self, *frames, replies: int = 1) -> list[dict]:
        """Open, send each frame and collect `replies` answers to it, check that nothing else
        arrives and that the socket still answers a ping, close. Returns the answers."""
        async def scenario():
            assert await self.open()
            got = []
            for frame in frames:
                await self.send(frame)
                got += [await self.recv() for _ in range(replies)]
            assert await self.nothing(), "nothing else arrives"
            await self.send({"type": "ping"})
            assert await self.recv() == {"type": "pong"}, "the socket stays open and usable"
            await self.close()
            return got
        return async_to_sync(scenario)()


@pytest.fixture
def socket_for(live_state):
    """`socket_for(user)` → a Socket logged in as `user` (None: anonymous), not yet open.
    Call it outside the async part of a test: logging in touches the database."""
    def make(user, origin=SAME_ORIGIN) -> Socket:
        return Socket(communicator(user, origin))
    return make


@pytest.fixture
def worker_engine(monkeypatch, live_state):
    """Install a scripted engine (tests/scripted_engine.py) as the worker's loaded model:
    `worker_engine(*completions)` returns it."""
    from scripted_engine import ScriptedEngine
    from webapp.chat import worker

    def install(*completions):
        scripted = ScriptedEngine(*completions)
        monkeypatch.setattr(worker, "_engine", scripted)
        return scripted
    return install


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The real stack (tests/live_site.py), started once for the end-to-end and browser tests."""
    from tests.live_site import started_site

    yield from started_site(tmp_path_factory)


@pytest.fixture
def browser_page(site):
    """A page of Debian's chromium on the live site, recording the frames its socket receives
    (`page.frames_received`); errors thrown in the page fail the test."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM}")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.frames_received = []
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda data: page.frames_received.append(json.loads(data))))
        yield page
        browser.close()
    assert not errors, f"errors in the page: {errors}"
