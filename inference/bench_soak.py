"""`python -m inference.bench soak [--people 20] [--minutes 5]`: the real site (Daphne, a Celery
worker, PostgreSQL, Redis, as inference/live_stack.py starts them on loopback) under simulated
people for a while. Each person logs in and, until the time is up, picks at random: a turn to
its end, a turn cancelled once it is queued, a malformed frame (not JSON, an unknown type, a
bad id: each must be answered by an `error` frame on a socket that stays open), or a turn whose
socket is closed mid-turn and which is followed again (`turn.subscribe`) on a new socket.

After the people stop (each ends its last turn), the turns are read from the database. The
report counts turns by end status (completed, cancelled, failed, length), and the lost ones: a
turn whose socket never got its turn.done and whose stored status is not final. Lost must be 0.
It gives the p95 of the client's time to first token (turn.create sent → first message.delta)
of the turns that ran. JSON to bench/results/soak.json."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .bench_concurrency import machine, percentile, r1, turn_settings
from .live_stack import LiveStack, StackError, missing_services

FINAL = ("completed", "cancelled", "failed", "length")
ACTIONS = {"turn": 5, "cancel": 2, "malformed": 2, "reconnect": 2}  # relative weights
MALFORMED = ["{not json", json.dumps({"type": "no.such.frame"}), json.dumps([1, 2]),
             json.dumps({"type": "turn.cancel", "turn_id": "x"}),
             json.dumps({"type": "turn.subscribe", "turn_id": 2 ** 40})]
PROMPTS = ["What is 2 + 3?", "Name a colour.", "Say hello.", "What day comes after Monday?"]


async def drop(ws):
    """Close the socket; one whose close handshake does not end soon (its unread frames hold
    the reading back) is cut, as a network drop would."""
    try:
        await asyncio.wait_for(ws.close(), 3)
    except Exception:
        ws.transport.abort()


class Person:
    def __init__(self, stack: LiveStack, session: str, rng: random.Random, turn_timeout: float,
                 settings: dict):
        self.stack, self.session, self.rng = stack, session, rng
        self.turn_timeout, self.settings = turn_timeout, settings
        self.turns: list[dict] = []  # one per turn.create sent
        self.malformed = {"sent": 0, "answered": 0}
        self.connects = 0

    async def open(self):
        self.connects += 1
        return await self.stack.connect(self.session).__aenter__()

    async def run(self, until: float):
        ws = await self.open()
        try:
            while time.monotonic() < until:
                action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
                if action == "malformed":
                    await self.malformed_frame(ws)
                else:
                    ws = await self.turn(ws, action)
        finally:
            await drop(ws)

    async def malformed_frame(self, ws):
        self.malformed["sent"] += 1
        await ws.send(self.rng.choice(MALFORMED))
        try:
            while True:  # frames of earlier turns may still arrive first
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "error" and frame.get("request_id") is None:
                    self.malformed["answered"] += 1
                    return
        except asyncio.TimeoutError:
            return

    async def turn(self, ws, action: str):
        loop = asyncio.get_running_loop()
        request_id = uuid.uuid4().hex[:12]
        record = {"action": action, "request_id": request_id, "turn_id": None, "done": None,
                  "ttft_ms": None, "error": None}
        self.turns.append(record)
        sent = loop.time()
        await ws.send(json.dumps({"type": "turn.create", "request_id": request_id,
                                  "conversation_id": None, "text": self.rng.choice(PROMPTS),
                                  "effort": "low", "settings": self.settings}))
        deadline = sent + self.turn_timeout
        try:
            while record["done"] is None:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - loop.time())))
                kind, turn_id = frame["type"], frame.get("turn_id")
                if kind == "error" and frame.get("request_id") == request_id:
                    record["error"] = frame.get("code")  # refused: no turn was made
                    return ws
                if (kind == "turn.queued" and frame.get("request_id") == request_id
                        and record["turn_id"] is None):  # a subscribe replays it: once only
                    record["turn_id"] = turn_id
                    if action == "cancel":
                        await ws.send(json.dumps({"type": "turn.cancel", "turn_id": turn_id}))
                    elif action == "reconnect":  # the socket goes mid-turn; a new one follows it
                        await asyncio.sleep(self.rng.uniform(0, 1.5))
                        await drop(ws)
                        ws = await self.open()
                        await ws.send(json.dumps({"type": "turn.subscribe", "turn_id": turn_id}))
                elif turn_id is None or turn_id != record["turn_id"]:
                    continue
                elif kind == "message.delta" and record["ttft_ms"] is None and action != "reconnect":
                    record["ttft_ms"] = (loop.time() - sent) * 1000
                elif kind == "turn.done":
                    record["done"] = frame["status"]
        except asyncio.TimeoutError:
            record["error"] = "no_turn_done"
        except Exception as exc:  # a closed socket: say so, go on with a new one
            record["error"] = f"socket: {type(exc).__name__}"
            try:
                await drop(ws)
            finally:
                ws = await self.open()
        return ws


async def soak(stack: LiveStack, sessions: list[str], seconds: float, seed: int,
               turn_timeout: float, settings: dict) -> list[Person]:
    people = [Person(stack, s, random.Random(seed + n), turn_timeout, settings)
              for n, s in enumerate(sessions)]
    until = time.monotonic() + seconds
    await asyncio.gather(*(p.run(until) for p in people))
    return people


def stored_statuses(stack: LiveStack) -> dict[int, str]:
    import psycopg2

    with psycopg2.connect(stack.env["DATABASE_URL"]) as db, db.cursor() as cursor:
        cursor.execute("SELECT id, status FROM chat_turn")
        return dict(cursor.fetchall())


def summarise(people: list[Person], stored: dict[int, str], seconds: float) -> dict:
    records = [r for p in people for r in p.turns]
    made = [r for r in records if r["turn_id"] is not None]
    lost = [r for r in made if r["done"] is None and stored.get(r["turn_id"]) not in FINAL]
    by_status = {s: sum(stored.get(r["turn_id"]) == s for r in made) for s in FINAL}
    ttfts = [r["ttft_ms"] for r in records if r["ttft_ms"] is not None]
    return {
        "people": len(people), "seconds": round(seconds),
        "turns_sent": len(records), "turns_made": len(made),
        "completed": by_status["completed"], "cancelled": by_status["cancelled"],
        "failed": by_status["failed"], "length": by_status["length"], "lost": len(lost),
        "lost_turns": [{"turn_id": r["turn_id"], "action": r["action"],
                        "stored": stored.get(r["turn_id"]), "error": r["error"]} for r in lost],
        "refused": sorted({r["error"] for r in records if r["turn_id"] is None and r["error"]}),
        "without_turn_done_on_socket": sum(r["done"] is None for r in made),
        "by_action": {a: sum(r["action"] == a for r in records) for a in ACTIONS if a != "malformed"},
        "malformed_sent": sum(p.malformed["sent"] for p in people),
        "malformed_answered": sum(p.malformed["answered"] for p in people),
        "connects": sum(p.connects for p in people),
        "ttft_p50_ms": r1(percentile(ttfts, 50)), "ttft_p95_ms": r1(percentile(ttfts, 95)),
        "ttft_count": len(ttfts),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.bench soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("vllm", "transformers"), default="transformers")
    parser.add_argument("--max-turns", type=int, default=4, help="GPTOSS_MAX_TURNS of the worker (4)")
    parser.add_argument("--max-output-tokens", type=int, default=48)
    parser.add_argument("--turn-timeout", type=float, default=180,
                        help="seconds a person waits for a turn's turn.done (180)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--out", default="bench/results/soak.json")
    args = parser.parse_args(argv)
    if args.people < 1 or args.minutes <= 0:
        parser.error("--people and --minutes must be positive")
    missing = missing_services(args.redis, args.postgres)
    if missing:
        parser.error("the soak starts the site, which needs " + " and ".join(missing))
    env = {"GPTOSS_ENGINE": args.engine, "GPTOSS_MAX_TURNS": str(args.max_turns),
           "CHAT_TURNS_PER_MINUTE": "100000"}
    env.update(item.partition("=")[::2] for item in args.env)
    users = [f"soak-{n}" for n in range(args.people)]
    settings = turn_settings(args.max_output_tokens)
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
              "command": "python -m inference.bench soak " + " ".join(argv or []),
              "site_env": env, "settings": settings}
    with tempfile.TemporaryDirectory(prefix="soak-stack-") as tmp:
        stack = LiveStack(Path(tmp), users=users, password="soak-pass-12345", env=env,
                          postgres_url=args.postgres, redis_url=args.redis)
        try:
            print(f"starting the site ({args.engine}) …", flush=True)
            stack.start()
            sessions = [stack.login(u) for u in users]
            started = time.monotonic()
            people = asyncio.run(soak(stack, sessions, args.minutes * 60, args.seed,
                                      args.turn_timeout, settings))
            seconds = time.monotonic() - started
            report.update(summarise(people, stored_statuses(stack), seconds))
        except StackError as exc:
            print(f"the site did not start: {exc}", file=sys.stderr)
            return 1
        finally:
            stack.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("machine", "settings")}, indent=1))
    print(f"wrote {out}")
    return 0 if report["lost"] == 0 else 2
