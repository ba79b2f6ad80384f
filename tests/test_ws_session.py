"""A chat socket lives only as long as its session: once the session ends (logout, the session
deleted or expired, the password changed, the user deactivated) the socket is closed with 4401
on the next frame it receives, before the frame is handled, and an idle socket within
CHAT_SESSION_CHECK_SECONDS. A valid session keeps its socket open."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from factories import turn_create
from tests.conftest import SAME_ORIGIN, Socket
from webapp.chat.consumers import SESSION_ENDED
from webapp.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)

CREATE = turn_create()


@pytest.fixture
def login(live_state):
    """`login(user)` → (the browser's HTTP client, a chat socket on the same session)."""
    from webapp.asgi import application

    def make(user):
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        socket = Socket(WebsocketCommunicator(application, "/ws/chat/", headers=[
            (b"origin", SAME_ORIGIN.encode()), (b"cookie", cookie)]))
        return client, socket
    return make


async def closed_with(socket: Socket, timeout: float = 5) -> int:
    """The socket's next output is a close; its code."""
    message = await socket.comm.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    await socket.comm.disconnect()  # what Daphne then tells the consumer
    return message["code"]


async def pong(socket: Socket) -> bool:
    await socket.send({"type": "ping"})
    return await socket.recv() == {"type": "pong"}


def run_with_ending(socket: Socket, end_session, then=None):
    """Open the socket, check it works, end the session (in the database, as another request
    would), send `then` (a ping if None): the socket is closed with 4401 and answers nothing."""
    async def scenario():
        assert await socket.open()
        assert await pong(socket)
        await database_sync_to_async(end_session)()
        await socket.send(then or {"type": "ping"})
        return await closed_with(socket)
    return async_to_sync(scenario)()


def test_logging_out_closes_the_socket_of_that_session(ada, login):
    client, socket = login(ada)
    assert run_with_ending(socket, lambda: client.post("/accounts/logout/")) == SESSION_ENDED == 4401


def test_a_deleted_session_closes_its_socket_before_the_frame_is_handled(ada, login):
    _, socket = login(ada)
    assert run_with_ending(socket, lambda: Session.objects.all().delete(), CREATE) == 4401
    assert not Turn.objects.exists(), "the frame that found the session gone did nothing"


def test_an_expired_session_closes_its_socket(ada, login):
    _, socket = login(ada)
    expire = lambda: Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))  # noqa: E731
    assert run_with_ending(socket, expire) == 4401


def test_a_password_change_closes_every_socket_of_the_old_sessions(ada, login):
    """Changed on one device as Django's password change view does it (the session that changed
    it goes on under a new key): the sockets of the sessions before the change close, the
    other device's and the changing device's alike; the new session opens a socket again."""
    _, other = login(ada)
    changer, mine = login(ada)

    def change_password():
        request = type("Request", (), {"session": changer.session, "user": ada})()
        ada.set_password("a-new-password-5678")
        ada.save()
        update_session_auth_hash(request, ada)  # cycles the session key, keeps it logged in
        request.session.save()
        changer.cookies["sessionid"] = request.session.session_key

    async def scenario():
        assert await mine.open()
        assert await other.open()
        await database_sync_to_async(change_password)()
        codes = []
        for socket in (other, mine):
            await socket.send({"type": "ping"})
            codes.append(await closed_with(socket))
        return codes
    assert async_to_sync(scenario)() == [4401, 4401]

    from webapp.asgi import application
    cookie = f"sessionid={changer.cookies['sessionid'].value}".encode()
    again = Socket(WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", SAME_ORIGIN.encode()), (b"cookie", cookie)]))
    assert again.exchange({"type": "ping"}) == [{"type": "pong"}]


def test_a_password_set_by_an_admin_closes_every_socket_of_the_user(ada, login):
    _, socket = login(ada)

    def reset():
        ada.set_password("reset-by-admin-1234")
        ada.save()
    assert run_with_ending(socket, reset) == 4401


def test_deactivating_the_user_closes_the_socket(ada, login):
    _, socket = login(ada)

    def deactivate():
        ada.is_active = False
        ada.save()
    assert run_with_ending(socket, deactivate) == 4401


def test_an_idle_socket_is_closed_within_the_check_interval(ada, login, settings):
    settings.CHAT_SESSION_CHECK_SECONDS = 1
    _, socket = login(ada)

    async def scenario():
        assert await socket.open()
        await asyncio.sleep(1.5)
        assert await pong(socket), "a valid session survives its checks"
        await database_sync_to_async(lambda: Session.objects.all().delete())()
        started = asyncio.get_running_loop().time()
        code = await closed_with(socket, timeout=5)  # nothing sent: the periodic check
        return code, asyncio.get_running_loop().time() - started
    code, waited = async_to_sync(scenario)()
    assert code == 4401 and waited < 2.5


def test_the_session_of_another_user_does_not_stand_in(ada, make_user, login):
    """Logging in as someone else in the same browser replaces the session: the first socket,
    whose session is gone, closes even though the browser has a valid session again."""
    client, socket = login(ada)

    def switch_user():
        client.post("/accounts/logout/")
        client.force_login(make_user("bob"))
    assert run_with_ending(socket, switch_user) == 4401
