#!/usr/bin/env python3
"""Every bad input of SECURITY.md at once, each attack from its own loopback address (127.0.0.N and up,
so the per-address limits one attack trips do not hide another's answer), against a running hub; prints
what the hub answered to each, as JSON. Used by test_network_safety.py while a clean client is
subscribed; runs until --duration has passed, repeating the attacks.

    attacker.py --port 8080 --first-address 10 --duration 8
"""
import argparse
import base64
import json
import socket
import struct
import threading
import time

from rawws import RawWebSocket, deflate_message, text_frame

UPGRADE = (b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n")


NAMES = ["slowloris", "connection_flood", "subscribe_flood", "oversized_frame", "zip_bomb", "invalid_utf8",
         "pings_after_close", "forged_ingest", "ping_flood", "unread_pipelining", "http_connection_flood",
         "half_full_backlog", "web_page_publisher", "huge_seqs", "resume_across_a_gap", "far_future_token"]


class Attacks:
    def __init__(self, port: int, first_address: int, until: float, ingest_token: str | None = None):
        self.port, self.first_address, self.until = port, first_address, until
        self.ingest_token = ingest_token
        self.answers: dict[str, set] = {}
        self.lock = threading.Lock()

    def saw(self, attack: str, answer):
        with self.lock:
            self.answers.setdefault(attack, set()).add(str(answer))

    @property
    def source(self) -> str:
        """This attack's own address: one per thread."""
        return f"127.0.0.{self.first_address + NAMES.index(threading.current_thread().name)}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.source, 0))

    def handshake_status(self, path: bytes, extra: bytes = b"") -> int:
        try:
            with self.connect() as sock:
                sock.sendall(UPGRADE % (path, extra))
                head = sock.recv(4096)
                return int(head.split(b" ")[1]) if head else 0
        except OSError as error:
            return f"error: {error.__class__.__name__}"

    def close_code(self, ws: RawWebSocket) -> int | str:
        try:
            while ws.recv_json() is not None:
                pass
            return ws.close_code
        except (OSError, ConnectionError) as error:
            return f"dropped: {error.__class__.__name__}"
        finally:
            ws.close()

    def ws(self, **options) -> RawWebSocket:
        return RawWebSocket(self.port, source=self.source, **options)

    # The attacks, each repeated until the end.

    def slowloris(self):
        while time.time() < self.until:
            sockets = []
            for _ in range(20):
                try:
                    sock = self.connect()
                    sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n")
                    sockets.append(sock)
                except OSError:
                    pass
            started = time.time()
            while sockets and time.time() < self.until:
                for sock in list(sockets):
                    try:
                        sock.sendall(b"X")
                        sock.settimeout(0.01)
                        if sock.recv(1) == b"":
                            raise ConnectionError
                    except socket.timeout:
                        pass
                    except OSError:
                        self.saw("slowloris", f"closed by the hub after {time.time() - started:.1f} s")
                        sockets.remove(sock)
                time.sleep(0.3)
            for sock in sockets:
                sock.close()

    def connection_flood(self):
        while time.time() < self.until:
            held = []
            for _ in range(100):
                try:
                    sock = self.connect()
                    sock.sendall(UPGRADE % (b"/ws", b""))
                    head = sock.recv(4096)
                    self.saw("connection flood", int(head.split(b" ")[1]) if head else "closed")
                    held.append(sock)
                except OSError as error:
                    self.saw("connection flood", error.__class__.__name__)
            time.sleep(0.5)
            for sock in held:
                sock.close()

    def subscribe_flood(self):
        while time.time() < self.until:
            try:
                ws = self.ws()
                ws.recv_json()  # welcome
                symbols = [f"S{i:03d}" for i in range(20)]
                frames = b"".join(text_frame(json.dumps({"op": op, "id": n, "symbols": symbols}).encode())
                                  for n in range(300) for op in ("subscribe", "unsubscribe"))
                ws.sock.sendall(frames)
                self.saw("subscribe flood", self.close_code(ws))
            except OSError as error:
                self.saw("subscribe flood", error.__class__.__name__)

    def send_and_see_the_close(self, attack: str, payload: bytes, **options):
        """Over and over: a fresh connection sends `payload` and records the close code it gets."""
        while time.time() < self.until:
            try:
                ws = self.ws(**options)
                ws.recv_json()  # welcome
                ws.sock.sendall(payload)
                self.saw(attack, self.close_code(ws))
            except OSError as error:
                self.saw(attack, error.__class__.__name__)
            time.sleep(0.2)

    def oversized_frame(self):
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 4 << 20) + b"abcd"
        self.send_and_see_the_close("oversized frame (4 MiB announced)", header + b"x" * 1000)

    def zip_bomb(self):
        bomb = deflate_message(b"{" + b" " * (16 << 20) + b"}")
        self.send_and_see_the_close(f"zip bomb ({len(bomb)} bytes inflating to 16 MiB)", text_frame(bomb, rsv1=True),
                                    extensions="permessage-deflate")

    def invalid_utf8(self):
        self.send_and_see_the_close("invalid UTF-8", text_frame(b'{"op":"ping","id":1,"x":"\xff\xfe"}'))

    def pings_after_close(self):
        while time.time() < self.until:
            try:
                ws = self.ws(receive_buffer=4096)
                ws.recv_json()
                ws.sock.sendall(text_frame(b"\xff"))  # the hub closes with 1007...
                pings = 0
                try:
                    for _ in range(2000):  # ...and the client keeps pinging without reading
                        ws.sock.sendall(text_frame(b"p" * 100, opcode=0x9))
                        pings += 1
                except OSError:
                    pass
                # What came back: the Close, and no pong after it.
                pongs_after_close, code = 0, None
                try:
                    while True:
                        opcode, payload = ws.recv_frame()
                        if opcode == 0x8:
                            code = struct.unpack("!H", payload[:2])[0]
                        elif opcode == 0xA and code is not None:
                            pongs_after_close += 1
                except (OSError, ConnectionError):
                    pass
                ws.close()
                self.saw("pings after Close", f"close {code}, {pongs_after_close} pongs after it")
            except OSError as error:
                self.saw("pings after Close", error.__class__.__name__)
            time.sleep(0.2)

    def forged_ingest(self):
        while time.time() < self.until:
            self.saw("forged ingest (no token)", self.handshake_status(b"/ingest"))
            self.saw("forged ingest (wrong token)", self.handshake_status(b"/ingest", b"Authorization: Bearer guess\r\n"))
            self.saw("forged ingest (wrong ?token=)", self.handshake_status(b"/ingest?token=guess"))
            time.sleep(0.2)


    def ping_flood(self):
        """Pings are requests: a flood of them is closed with 1008 like any other."""
        flood = b"".join(text_frame(b"ping", opcode=0x9) for _ in range(3000))
        while time.time() < self.until:
            try:
                ws = self.ws(receive_buffer=4096)
                ws.recv_json()  # welcome
                try:
                    ws.sock.sendall(flood)
                except OSError:
                    pass
                code = None
                try:
                    while code is None:
                        opcode, payload = ws.recv_frame()
                        if opcode == 0x8:
                            code = struct.unpack("!H", payload[:2])[0]
                except (OSError, ConnectionError) as error:
                    code = f"dropped: {error.__class__.__name__}"
                ws.close()
                self.saw("ping flood", code)
            except OSError as error:
                self.saw("ping flood", error.__class__.__name__)
            time.sleep(0.2)

    def closed_while_unread(self, sock: socket.socket) -> str:
        """Waits 5 s without reading, then reads what is queued, until the hub's close (then
        "closed by the hub") or 8 s with nothing more ("still open"). The hub's rules close such a
        connection within about 4 s in the test (1 s pings, 3 s slow-client timeout), on timers
        that a loaded machine delays by milliseconds, not seconds. It may run past the attack's
        time: the attacker waits for its threads."""
        time.sleep(5)
        sock.settimeout(8)
        try:
            while sock.recv(65536):
                pass
            return "closed by the hub"
        except socket.timeout:
            return "still open"
        except OSError:
            return "closed by the hub"

    def unread_pipelining(self):
        """Pipelined HTTP requests whose answers are never read: the hub stops reading at its
        backlog limit, and closes the connection after the slow-client timeout (3 s in the test)."""
        request = b"GET /v1/snapshot HTTP/1.1\r\nHost: x\r\n\r\n" * 100
        while time.time() + 4 < self.until:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.bind((self.source, 0))
                sock.connect(("127.0.0.1", self.port))
                sock.settimeout(0.2)
                try:
                    for _ in range(100):
                        sock.sendall(request)
                except socket.timeout:
                    pass
                self.saw("unread pipelining", self.closed_while_unread(sock))
            except OSError as error:
                self.saw("unread pipelining", error.__class__.__name__)
            finally:
                sock.close()

    def http_connection_flood(self):
        """Plain keep-alive HTTP connections count in the per-client limit."""
        while time.time() < self.until:
            held = []
            for _ in range(80):
                try:
                    sock = self.connect()
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    head = sock.recv(4096)
                    self.saw("http connection flood", int(head.split(b" ")[1]) if head else "closed")
                    held.append(sock)
                except OSError as error:
                    self.saw("http connection flood", error.__class__.__name__)
            time.sleep(0.5)
            for sock in held:
                sock.close()

    def half_full_backlog(self):
        """Subscribes to everything, lets updates queue, unsubscribes, and never reads again: closed
        as gone once a ping goes unanswered (1 s pings in the test), not held forever."""
        while time.time() + 4 < self.until:
            try:
                ws = self.ws(receive_buffer=4096)
                ws.recv_json()
                ws.send_json({"op": "list", "id": 1})
                symbols = []
                while not symbols:
                    message = ws.recv_json()
                    if message and message.get("type") == "symbols":
                        symbols = message["symbols"]
                ws.send_json({"op": "subscribe", "id": 2, "symbols": symbols})
                time.sleep(0.5)
                ws.send_json({"op": "unsubscribe", "id": 3, "symbols": symbols})
                self.saw("half-full backlog", self.closed_while_unread(ws.sock))
                ws.close()
            except (OSError, ConnectionError) as error:
                self.saw("half-full backlog", error.__class__.__name__)

    def web_page_publisher(self):
        """A web page (it sends an Origin) trying to publish: never, whatever the origin."""
        token = f"?token={self.ingest_token}" if self.ingest_token else ""
        while time.time() < self.until:
            for origin in (b"https://evil.example.net", b"http://127.0.0.1:%d" % self.port):
                self.saw("web page publishing", self.handshake_status(b"/ingest" + token.encode(), b"Origin: " + origin + b"\r\n"))
            time.sleep(0.2)

    def ingest(self) -> RawWebSocket:
        path = "/ingest" + (f"?token={self.ingest_token}" if self.ingest_token else "")
        return RawWebSocket(self.port, path=path, source=self.source)

    def huge_seqs(self):
        """A publisher numbering its own symbol with the largest seqs, then past the limit."""
        while time.time() < self.until:
            try:
                ws = self.ingest()
                ws.sock.sendall(text_frame(quote_batch(("ATKSEQ", (1 << 53) - 1), ("ATKSEQ", 0), ("ATKSEQ", 0)), opcode=0x2))
                ws.sock.sendall(text_frame(quote_batch(("ATKSEQ", 2 ** 64 - 1)), opcode=0x2))
                self.saw("seqs past 2^53", self.close_code(ws))
            except OSError as error:
                self.saw("seqs past 2^53", error.__class__.__name__)
            time.sleep(0.3)

    def resume_across_a_gap(self):
        """A publisher's seq gap of 2^52, and subscribes resuming across it, over and over."""
        try:
            publisher = self.ingest()
            publisher.sock.sendall(text_frame(quote_batch(("ATKGAP", 1), ("ATKGAP", 1 << 52)), opcode=0x2))
        except OSError as error:
            self.saw("resume across a gap", error.__class__.__name__)
            return
        time.sleep(0.3)
        while time.time() < self.until:
            try:
                ws = self.ws()
                ws.recv_json()
                for n in range(5):
                    ws.send_json({"op": "subscribe", "id": n, "symbols": ["ATKGAP"], "since": {"ATKGAP": 1}})
                answers = [ws.recv_json() for _ in range(2)]
                self.saw("resume across a gap", ",".join(str(a.get("type")) for a in answers if a))
                ws.close()
            except (OSError, ConnectionError) as error:
                self.saw("resume across a gap", error.__class__.__name__)
            time.sleep(0.2)
        publisher.close()

    def far_future_token(self):
        """Tokens that never expire, or whose exp is no date at all (the hub may have auth off:
        then they are ignored; with it on, they are forged and refused)."""
        header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
        while time.time() < self.until:
            for exp in (253402300799, 1e300):
                claims = base64.urlsafe_b64encode(json.dumps({"sub": "x", "exp": exp, "symbols": ["*"]}).encode()).rstrip(b"=")
                token = header + b"." + claims + b".c2lnbmF0dXJl"
                self.saw("far-future token", self.handshake_status(b"/ws?token=" + token))
            time.sleep(0.2)


def quote_batch(*records: tuple[str, int]) -> bytes:
    """A binary tick batch (docs/PROTOCOL.md, "Ingest") of quotes: (symbol, seq) each."""
    body = b""
    for symbol, seq in records:
        name = symbol.encode()
        body += bytes([1, len(name)]) + name + struct.pack("<QQB", seq, 0, 2) + struct.pack("<qqqq", 10000, 10001, 5, 5)
    return struct.pack("<HBBH", 0x4B54, 1, 0, len(records)) + body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--first-address", type=int, default=10, help="attacks come from 127.0.0.N and up")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--attacks", default=",".join(NAMES), help="which, comma-separated (default: all)")
    parser.add_argument("--ingest-token", help="the publishers' token: the attacks that publish are a publisher")
    args = parser.parse_args()
    attacks = Attacks(args.port, args.first_address, time.time() + args.duration, args.ingest_token)
    chosen = args.attacks.split(",")
    threads = [threading.Thread(target=getattr(attacks, name), name=name, daemon=True) for name in NAMES if name in chosen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.duration + 30)
    print(json.dumps({attack: sorted(answers) for attack, answers in attacks.answers.items()}, indent=1))


if __name__ == "__main__":
    main()
