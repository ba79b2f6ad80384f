"""Chat: conversations, turns and their messages; the WebSocket consumer and the worker task."""
