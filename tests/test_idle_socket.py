"""An idle chat socket stays open: the channel layer's blocking reads from Redis outlast
redis-py's default socket timeout (5 s, the same as channels_redis's read timeout), which
used to drop every idle consumer after a few seconds."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_idle_socket_survives_and_answers_ping(make_user, socket_for, settings):
    from webapp import settings as production

    socket = socket_for(make_user("ada"))
    settings.CHANNEL_LAYERS = production.CHANNEL_LAYERS  # the real Redis layer, not in-memory

    async def scenario():
        assert await socket.open()
        await asyncio.sleep(8)
        await socket.send({"type": "ping"})
        assert await socket.recv() == {"type": "pong"}
        await socket.close()

    async_to_sync(scenario)()
