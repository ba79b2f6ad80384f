"""The chat WebSocket (/ws/chat/): validates the browser's frames, turns them into database
transitions (webapp/chat/turns.py) and relays the frames workers publish for the turns this
socket follows. It owns nothing but the socket and its group memberships: a turn's state is in
the database, its stream in the turn's frame log (webapp/chat/live.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from redis import RedisError

from inference import events
from inference.harmony import EFFORTS

from . import frames, live, turns
from .frames import FrameError
from .models import Turn
from .replay import queued_frame, turn_frames

log = logging.getLogger(__name__)

# The close code of a socket whose session ended (logout, session deleted or expired, password
# changed, user deactivated): docs/protocol.md, "Closing". The browser goes to the login page.
SESSION_ENDED = 4401
# A frame that needs Redis (the frame log, the rate window, the channel layer) while Redis does
# not answer is refused `unavailable`, with this retry hint in seconds; the socket stays open.
UNAVAILABLE_RETRY_S = 2
# Errors that mean "Redis (or the network to it) is away", not a bug.
REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)
# How long the channel-layer receive loop waits before it listens again after Redis failed.
LAYER_RETRY_S = 1.0
# The waits before a failed group_add/group_discard is tried again (then it is refused).
LAYER_RETRIES_S = (0.05, 0.3)


class ChatConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # turn id -> first `seq` to relay; frames before it were sent by a catch-up
        self.following: dict[int, int] = {}
        self.redis = None
        self.session_watch: asyncio.Task | None = None

    # ---- socket life ----

    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        """Channels sets this to the layer's receive; an outage of Redis makes it raise, which
        would end the consumer (the socket closed with 1011). Wrapped, it waits and listens
        again, so the socket outlives the outage, and rejoins the groups of the turns it
        follows (a Redis restarted without persistence has forgotten them)."""
        async def resilient():
            failed = False
            while True:
                try:
                    if failed:
                        for turn_id in list(self.following):
                            await self.channel_layer.group_add(live.group(turn_id),
                                                               self.channel_name)
                        failed = False
                        log.info("channel layer back for %s", self.channel_name)
                    return await receive()
                except REDIS_DOWN as exc:
                    if not failed:
                        log.warning("channel layer receive failed (%s); retrying", exc)
                    failed = True
                    await asyncio.sleep(LAYER_RETRY_S)
        self._channel_receive = resilient

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user = user
        self.session_key = self.scope["session"].session_key
        self.redis = live.async_client()
        await self.accept()
        self.session_watch = asyncio.create_task(self.watch_session())

    async def disconnect(self, code):
        if self.session_watch is not None:
            self.session_watch.cancel()
        try:
            for turn_id in list(self.following):
                await self.channel_layer.group_discard(live.group(turn_id), self.channel_name)
        except REDIS_DOWN:  # Redis away: the group memberships expire on their own
            pass
        self.following.clear()
        if self.redis is not None:
            try:
                await self.redis.aclose()
            except REDIS_DOWN:
                pass

    # ---- the session behind the socket ----

    def session_is_valid(self) -> bool:
        """What the next HTTP request of this session would find, read afresh from the session
        store: the session exists and has not expired, and Django's own check of it still
        gives this user (active, with the password hash the session was made with)."""
        store = import_module(settings.SESSION_ENGINE).SessionStore(self.session_key)
        user = auth.get_user(SimpleNamespace(session=store))
        return user.is_authenticated and user.pk == self.user.pk

    async def session_ended(self) -> bool:
        if await database_sync_to_async(self.session_is_valid)():
            return False
        log.info("closing the socket of user %s: its session ended", self.user.pk)
        await self.close(code=SESSION_ENDED, reason="session ended")
        return True

    async def watch_session(self):
        """Every CHAT_SESSION_CHECK_SECONDS, an idle socket too: is the session still valid?"""
        while True:
            await asyncio.sleep(settings.CHAT_SESSION_CHECK_SECONDS)
            try:
                if await self.session_ended():
                    return
            except Exception:  # the database away: check again next time
                log.warning("session check of user %s failed", self.user.pk, exc_info=True)

    async def send_frame(self, frame: dict):
        await self.send(text_data=json.dumps(frame))

    async def receive(self, text_data=None, bytes_data=None):
        frame = {}
        try:
            if await self.session_ended():  # before anything of the frame is read
                return
            frame = self.decode(text_data, bytes_data)
            frames.check_tree(frame)
            kind = frame.get("type")
            handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise FrameError("unknown_type", f"unknown frame type {frames.shown(kind)}; "
                                 f"expected one of {', '.join(sorted(self.HANDLERS))}")
            await handler(self, frame)
        except FrameError as exc:
            await self.refuse(frame, exc.code, exc.message, exc.retry_after_s)
        except REDIS_DOWN as exc:  # Redis away: say so and when to try again, keep the socket
            log.warning("frame %r refused, Redis unavailable: %s", frame.get("type"), exc)
            await self.refuse(frame, "unavailable", "the server's live state (Redis) is not "
                              "answering; send this again shortly", UNAVAILABLE_RETRY_S)
        except Exception:  # a bug or a database outage: say so, keep the socket
            log.exception("frame %r failed", frame.get("type"))
            await self.refuse(frame, "internal_error", "the server failed to handle this frame")

    async def refuse(self, frame: dict, code: str, message: str, retry_after_s: float | None = None):
        request_id, turn_id = frame.get("request_id"), frame.get("turn_id")
        if not isinstance(request_id, str) or len(request_id) > frames.REQUEST_ID_CHARS:
            request_id = None  # echoed only when it could be a request id
        if not frames.is_int(turn_id) or not 1 <= turn_id <= frames.MAX_ID:
            turn_id = None
        error = events.error(code, message, request_id, turn_id)
        if retry_after_s is not None:
            error["retry_after_s"] = retry_after_s
        await self.send_frame(error)

    @staticmethod
    def decode(text_data, bytes_data) -> dict:
        if text_data is None:
            raise FrameError("bad_frame", "frames are JSON text, not binary")
        # Checked before the text is parsed at all. Daphne (autobahn) has already refused, by
        # closing the socket (1009), any message over its --websocket-max-message-size, which
        # docker-compose.yml sets; and what it let through is valid UTF-8 ("surrogatepass" only
        # keeps a test's malformed str from failing here).
        size = len(text_data.encode("utf-8", "surrogatepass"))
        if size > settings.CHAT_MAX_FRAME_BYTES:
            raise FrameError("too_large", f"the frame has {size} bytes; the limit is "
                                          f"{settings.CHAT_MAX_FRAME_BYTES}")
        return frames.parse(text_data)

    # ---- following turns ----

    async def group_op(self, op, turn_id: int):
        """group_add or group_discard (idempotent), tried again after a short wait when it
        fails: the first command on a layer connection that Redis dropped (restarted) fails
        although Redis is back."""
        for wait in LAYER_RETRIES_S:
            try:
                return await op(live.group(turn_id), self.channel_name)
            except REDIS_DOWN:
                await asyncio.sleep(wait)
        return await op(live.group(turn_id), self.channel_name)

    async def follow(self, turn_id: int, first_seq: int):
        if turn_id not in self.following:
            await self.group_op(self.channel_layer.group_add, turn_id)
        self.following[turn_id] = first_seq

    async def unfollow(self, turn_id: int):
        if self.following.pop(turn_id, None) is not None:
            await self.group_op(self.channel_layer.group_discard, turn_id)

    async def turn_frame(self, message):
        """A frame a worker published to a turn's group (live.FRAME_MESSAGE_TYPE)."""
        await self.relay(message["frame"])

    async def turn_frames(self, message):
        """Several frames of one turn, in order (live.FRAMES_MESSAGE_TYPE)."""
        for frame in message["frames"]:
            await self.relay(frame)

    async def relay(self, frame: dict):
        first_seq = self.following.get(frame["turn_id"])
        if first_seq is None or frame.get("seq", first_seq) < first_seq:
            return  # not followed (any more), or already sent by a catch-up
        await self.send_frame(frame)
        if frame["type"] == "turn.done":
            await self.unfollow(frame["turn_id"])

    async def publish(self, turn_id: int, frame: dict):
        await live.append_and_send(self.redis, self.channel_layer, turn_id, frame)

    # ---- client frames ----

    async def queue(self, turn: Turn, position: int, task_name: str):
        """Follow the turn, hand it to the workers, tell the browser. Following comes first: a
        fast worker's frames then wait in this socket's channel until turn.queued is sent."""
        next_seq = await live.log_length(self.redis, turn.id)
        if turn.id not in self.following:
            await self.follow(turn.id, next_seq)
        failed = await database_sync_to_async(turns.enqueue)(turn, task_name)
        await self.send_frame(await self.queued_frame(turn, next_seq, position))
        if failed is not None:
            await self.publish(turn.id, failed)

    async def admit(self, count: int) -> str:
        """Count `count` new turns against the user's minute (rate_limited when they do not
        fit): the token that live.forget_turn takes back if they are not started after all."""
        limit = settings.CHAT_TURNS_PER_MINUTE
        if count > limit:
            raise FrameError("rate_limited", f"at most {limit} turns in any 60 seconds, and this "
                                             f"starts {count}")
        token, wait = await live.admit_turn(self.redis, self.user.id, limit, count)
        if token is None:
            starts = "the next one" if count == 1 else f"the next {count}"
            raise FrameError("rate_limited", f"at most {limit} turns in any 60 seconds; {starts} "
                                             f"may start in {wait:g} s", retry_after_s=wait)
        return token

    async def on_turn_create(self, frame):
        request = frames.turn_create(frame, max_text_chars=settings.CHAT_MAX_TEXT_CHARS,
                                     max_output_tokens=settings.CHAT_MAX_OUTPUT_TOKENS)
        token = await self.admit(1)
        try:
            turn, position = await database_sync_to_async(turns.create_turn)(
                self.user, request, max_queued=settings.CHAT_MAX_QUEUED_TURNS)
        except BaseException:  # refused or failed: it does not count against the minute
            await live.forget_turn(self.redis, self.user.id, token)
            raise
        await self.queue(turn, position, turns.RUN_TASK)

    async def on_turn_compare(self, frame):
        """One turn per effort, stored and queued together (an engine with several turn slots
        runs them at once); each is answered with its own turn.queued, then streams as any
        turn does. Counted as that many turns by the rate and queue limits."""
        request = frames.turn_compare(frame, max_text_chars=settings.CHAT_MAX_TEXT_CHARS,
                                      max_output_tokens=settings.CHAT_MAX_OUTPUT_TOKENS)
        count = len(EFFORTS)
        token = await self.admit(count)
        try:
            created = await database_sync_to_async(turns.create_comparison)(
                self.user, request, max_queued=settings.CHAT_MAX_QUEUED_TURNS)
        except BaseException:  # refused or failed: none of them counts against the minute
            await live.forget_turn(self.redis, self.user.id, token, count)
            raise
        for turn, position in created:
            await self.queue(turn, position, turns.RUN_TASK)

    async def on_turn_cancel(self, frame):
        turn_id = frames.positive_id(frame, "turn_id")
        await database_sync_to_async(turns.owned_turn)(self.user, turn_id)
        if turn_id not in self.following:  # whoever stops a turn sees its turn.done
            await self.follow(turn_id, await live.log_length(self.redis, turn_id))
        turn, done = await database_sync_to_async(turns.cancel_idle)(self.user, turn_id)
        if done is not None:
            await self.publish(turn.id, done)
        else:  # running: its worker polls the flag and ends the turn with turn.done
            await live.request_cancel(self.redis, turn.id)

    async def on_tool_output(self, frame):
        turn_id, call_id, output = frames.tool_output(frame, max_chars=settings.CHAT_MAX_TEXT_CHARS)
        turn, position = await database_sync_to_async(turns.accept_tool_output)(
            self.user, turn_id, call_id, output)
        await self.queue(turn, position, turns.RESUME_TASK)

    async def on_turn_subscribe(self, frame):
        """Follow a turn again after a reload or reconnect: send it from its start, then its
        live frames, with nothing missed. Group messages wait until this handler returns, and
        the group is joined before the log or the database is read, so nothing slips between."""
        turn_id = frames.positive_id(frame, "turn_id")
        turn = await database_sync_to_async(turns.owned_turn)(self.user, turn_id)
        if turn.status == Turn.Status.RUNNING:  # is its worker still alive?
            swept = await database_sync_to_async(turns.fail_stale_turns)([turn_id])
            for done in swept:
                await self.publish(turn_id, done)
            if swept:
                turn = await database_sync_to_async(turns.owned_turn)(self.user, turn_id)
        await self.follow(turn_id, 0)
        if turn.status == Turn.Status.RUNNING:  # the frame log: exactly what was streamed
            logged = await live.logged_frames(self.redis, turn_id)
            catch_up = [await self.queued_frame(turn, 0)] + logged
            first_live = len(logged)
        else:  # queued, awaiting or finished: the database holds all of it
            first_live = await live.log_length(self.redis, turn_id)
            turn, catch_up = await database_sync_to_async(self.stored_turn)(turn_id)
            if turn.status == Turn.Status.QUEUED:
                catch_up[0] = await self.queued_frame(turn, first_live)
            else:
                catch_up[0]["next_seq"] = first_live
        for item in catch_up:
            await self.send_frame(item)
        if catch_up[-1]["type"] == "turn.done":
            await self.unfollow(turn_id)
        else:
            self.following[turn_id] = first_live

    async def queued_frame(self, turn: Turn, next_seq: int, position: int | None = None) -> dict:
        """turn.queued for this socket; `next_seq` (an addition): the `seq` of the next frame
        with one that the socket will get for the turn, so the browser can tell a gap."""
        if position is None:
            position = await database_sync_to_async(turn.queue_position)()
        frame = queued_frame(turn, position, await live.worker_summary(self.redis))
        frame["next_seq"] = next_seq
        return frame

    def stored_turn(self, turn_id: int):
        turn = turns.owned_turn(self.user, turn_id)
        return turn, turn_frames(turn)

    async def on_ping(self, frame):
        await self.send_frame({"type": "pong"})

    HANDLERS = {
        "turn.create": on_turn_create,
        "turn.compare": on_turn_compare,
        "turn.cancel": on_turn_cancel,
        "tool.output": on_tool_output,
        "turn.subscribe": on_turn_subscribe,
        "ping": on_ping,
    }
