"""Redis down and back, every part real (tests/live_site.py: Daphne and a Celery worker started
with docker-compose.yml's command, on a Redis of this test's own, which it stops and starts
again without persistence, as a restarted container would come back):

- while Redis is down, turn.create on an open socket is answered with an `error` frame
  (`unavailable`, with `retry_after_s`), not a 1011 close or silence, and the socket stays open;
- once Redis is back, the first turn.create (on a new socket, and on the old one) completes:
  the site and the worker reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import pytest

from inference.live_stack import free_port, missing_services, run_turn
from tests.live_site import QUESTION, TURN_TIMEOUT_S

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


class OwnRedis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while any(m.startswith("Redis") for m in missing_services(self.url)):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_and_site(tmp_path_factory):
    from tests.live_site import started_site

    own = OwnRedis()
    own.start()
    try:
        for site in started_site(tmp_path_factory, "redis-restart", redis_url=own.url):
            yield own, site
            if own.process.poll() is not None:  # a failed test left it down: the site's
                own.start()                      # teardown clears its keys
    finally:
        own.stop()


async def recv(ws, timeout):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_turns_are_refused_unavailable_while_redis_is_down_and_work_once_it_is_back(
        redis_and_site):
    own, site = redis_and_site
    session = site.login()

    async def scenario():
        async with site.connect(session) as old:
            before = await run_turn(old, QUESTION, effort="low")
            assert before.status == "completed", before.frames[-1]

            own.stop()
            await old.send(json.dumps({"type": "turn.create", "request_id": "down",
                                       "conversation_id": None, "text": QUESTION,
                                       "effort": "low"}))
            error = await recv(old, 30)  # a close (1011) raises here instead
            assert error["type"] == "error" and error["code"] == "unavailable", error
            assert error["request_id"] == "down" and error["retry_after_s"] > 0
            await old.send(json.dumps({"type": "ping"}))
            assert await recv(old, 10) == {"type": "pong"}, "the socket stays open"

            own.start()  # back, and empty: no persistence
            async with site.connect(session) as new:
                first = await run_turn(new, QUESTION, effort="low", timeout=TURN_TIMEOUT_S)
                assert first.status == "completed", first.frames
            again = await run_turn(old, QUESTION, effort="low", timeout=TURN_TIMEOUT_S)
            assert again.status == "completed", again.frames
    asyncio.run(scenario())
