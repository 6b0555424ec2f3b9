"""A minimal blocking WebSocket client on a raw socket, for tests that need control no library
gives: a tiny receive buffer, not reading for a while, and seeing every frame and close code."""
import base64
import json
import os
import socket
import struct
import zlib


def text_frame(payload: bytes, rsv1: bool = False, opcode: int = 0x1) -> bytes:
    """A masked, final frame (text unless `opcode` says otherwise), as a client must send it; `rsv1`
    marks it permessage-deflate."""
    mask = os.urandom(4)
    first = (0xC0 if rsv1 else 0x80) | opcode
    if len(payload) < 126:
        header = bytes([first, 0x80 | len(payload)])
    elif len(payload) < 65536:
        header = bytes([first, 0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header = bytes([first, 0x80 | 127]) + struct.pack("!Q", len(payload))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWebSocket:
    def __init__(self, port: int, path: str = "/ws", receive_buffer: int | None = None, timeout: float = 10,
                 extensions: str | None = None, subprotocol: str | None = None, source: str | None = None,
                 first_frames: bytes = b""):
        """`first_frames`: sent in the same write as the upgrade request, before any answer (a client
        need not wait for the 101)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        if receive_buffer:
            # Before connect, so the small window is what TCP advertises from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        offer = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
        if subprotocol:
            offer += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n").encode() + first_frames)
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        head, self.pending = response.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.response_headers = {}
        for line in head.decode().split("\r\n")[1:]:
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        self.last_rsv1 = False
        # One persistent raw-DEFLATE stream decodes both shared (standalone) and dedicated messages.
        self.inflater = zlib.decompressobj(-15) if "permessage-deflate" in self.response_headers.get("sec-websocket-extensions", "") else None
        self.close_code = None

    def send_json(self, message: dict):
        self.sock.sendall(text_frame(json.dumps(message).encode()))

    def _fill(self, size: int):
        while len(self.pending) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.pending += chunk

    def recv_frame(self):
        """Returns (opcode, payload bytes); `last_rsv1` tells whether the frame was compressed."""
        self._fill(2)
        opcode, length = self.pending[0] & 0x0F, self.pending[1] & 0x7F
        self.last_rsv1 = bool(self.pending[0] & 0x40)
        header = {126: 4, 127: 10}.get(length, 2)
        self._fill(header)
        if length == 126:
            length = struct.unpack("!H", self.pending[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", self.pending[2:10])[0]
        self._fill(header + length)
        payload, self.pending = self.pending[header:header + length], self.pending[header + length:]
        return opcode, payload

    def recv_json(self):
        """The next server message as a dict; None once the server closed (its code in `close_code`)."""
        while True:
            opcode, payload = self.recv_frame()
            if self.last_rsv1:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_reason = payload[2:].decode()
                return None
            # Pings go unanswered on purpose: tests use this client as an unresponsive one.

    def close(self):
        self.sock.close()


def deflate_message(payload: bytes) -> bytes:
    """A permessage-deflate message body: raw DEFLATE, sync-flushed, without the 00 00 ff ff tail."""
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]
