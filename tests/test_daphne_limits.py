"""Daphne, started with docker-compose.yml's limits, refuses an oversized WebSocket message
before buffering it: a frame whose header announces more than the limit closes the socket with
a dropped connection while its payload is still unsent, and so does a message of many small
frames once their total passes the limit. Smaller messages arrive whole. Frames between
CHAT_MAX_FRAME_BYTES and this limit get the consumer's `too_large` error frame instead
(tests/test_consumer_frames.py), so the limit must stay above it."""

from __future__ import annotations

import base64
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_daphne_limits() -> dict[str, int]:
    script = COMPOSE["services"]["web"]["command"][2]
    daphne = script[script.index("exec daphne"):]
    return {name: int(value) for name, value in
            re.findall(r"--websocket-(max-message-size|max-frame-size) (\d+)", daphne)}


LIMITS = compose_daphne_limits()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def daphne(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    args = [f"--websocket-{name}={value}" for name, value in LIMITS.items()]
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                *args, "tests.asgi_echo:application"], cwd=ROOT,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"daphne did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


class RawSocket:
    """A WebSocket client written out by hand, so that a frame header can promise more
    payload than is ever sent."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_header(self, length: int, opcode: int = 0x1, fin: bool = True) -> bytes:
        """A client frame's header (masked, as clients must); returns the mask."""
        first = (0x80 if fin else 0) | opcode
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 2**16:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        self.sock.sendall(header + mask)
        return mask

    def send_payload(self, mask: bytes, payload: bytes):
        self.sock.sendall(bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_frame(self, payload: bytes, opcode: int = 0x1, fin: bool = True):
        self.send_payload(self.send_header(len(payload), opcode, fin), payload)

    def read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self.read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exactly(8))
        return first & 0x0F, self.read_exactly(length)

    def dropped(self) -> str:
        """How the server ended the connection: autobahn fails an oversized message by
        dropping the TCP connection at once (a reset, or an end of stream), or with a close
        frame 1009 (message too big). A timeout (nothing ended it) fails the test."""
        try:
            while True:
                opcode, payload = self.read_frame()
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0]
                    assert code == 1009, code
                    return "close 1009"
        except (ConnectionResetError, ConnectionError) as exc:
            return type(exc).__name__


def test_compose_sets_a_limit_above_the_consumers_and_below_daphnes_default():
    from django.conf import settings

    assert set(LIMITS) == {"max-message-size", "max-frame-size"}
    assert settings.CHAT_MAX_FRAME_BYTES < LIMITS["max-message-size"] < 1024 * 1024
    assert LIMITS["max-frame-size"] == LIMITS["max-message-size"]


def test_a_message_under_the_limit_arrives_whole(daphne):
    client = RawSocket(daphne)
    size = LIMITS["max-message-size"] - 10
    client.send_frame(b"x" * size)
    assert client.read_frame() == (0x1, str(size).encode())


def test_a_frame_announcing_too_much_is_refused_before_its_payload_is_sent(daphne):
    client = RawSocket(daphne)
    try:
        mask = client.send_header(100 * 1024 * 1024)  # 100 MiB promised
        client.send_payload(mask, b"x" * 1000)  # and only 1,000 bytes sent
    except (BrokenPipeError, ConnectionResetError):
        return  # dropped at the header already
    assert client.dropped()


def send_fragmented(client: RawSocket, total: int, chunk: int = 16 * 1024, fin: bool = True):
    sizes = [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])
    for i, size in enumerate(sizes):
        client.send_frame(b"x" * size, opcode=0x1 if i == 0 else 0x0,
                          fin=fin and i == len(sizes) - 1)


def test_a_message_of_small_frames_arrives_whole_under_the_limit(daphne):
    client = RawSocket(daphne)
    size = LIMITS["max-message-size"] - 10
    send_fragmented(client, size)
    assert client.read_frame() == (0x1, str(size).encode())


def test_a_message_of_small_frames_is_refused_once_its_total_passes_the_limit(daphne):
    client = RawSocket(daphne)
    try:  # the final fragment is never sent: the total alone passes the limit
        send_fragmented(client, LIMITS["max-message-size"] + 16 * 1024, fin=False)
    except (BrokenPipeError, ConnectionResetError):
        return  # dropped while we were still sending
    assert client.dropped()
