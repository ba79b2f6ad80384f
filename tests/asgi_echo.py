"""A bare ASGI application for tests of Daphne itself (tests/test_daphne_limits.py): it accepts
every WebSocket and answers each message with its length in characters or bytes."""


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            body = event.get("text") if event.get("text") is not None else event.get("bytes")
            await send({"type": "websocket.send", "text": str(len(body))})
        else:
            return
