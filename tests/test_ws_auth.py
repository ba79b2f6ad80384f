"""The chat socket admits only a logged-in user whose page comes from an allowed host:
anonymous and cross-origin sockets are refused at the handshake."""

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db(transaction=True)


def handshake(socket) -> bool:
    async def scenario():
        accepted = await socket.open()
        if accepted:
            await socket.close()
        return accepted
    return async_to_sync(scenario)()


def test_anonymous_socket_is_refused(socket_for):
    assert not handshake(socket_for(None))


def test_cross_origin_socket_is_refused_even_when_logged_in(make_user, socket_for):
    ada = make_user("ada")
    assert not handshake(socket_for(ada, origin="http://evil.example"))
    assert not handshake(socket_for(ada, origin="http://localhost.evil.example"))


def test_socket_without_origin_is_refused(make_user, socket_for):
    assert not handshake(socket_for(make_user("ada"), origin=None))


def test_logged_in_same_origin_socket_is_accepted_and_answers_ping(make_user, socket_for):
    socket = socket_for(make_user("ada"))

    async def scenario():
        assert await socket.open()
        await socket.send({"type": "ping"})
        assert await socket.recv() == {"type": "pong"}
        await socket.close()
    async_to_sync(scenario)()


def test_session_of_a_logged_out_user_is_refused(make_user, socket_for):
    from django.contrib.sessions.models import Session

    socket = socket_for(make_user("ada"))
    Session.objects.all().delete()  # what logging out does to the session
    assert not handshake(socket)
