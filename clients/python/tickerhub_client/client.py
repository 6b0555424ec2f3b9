"""`TickerHubClient`: one logical subscription to a TickerHub that survives its connections.

It connects, subscribes, and yields updates as an async iterator. When the connection drops it
reconnects with jittered exponential backoff and subscribes again to everything it had, with
`since` and `epoch` so the hub replays what was missed (docs/PROTOCOL.md, "Recovery"). Per-symbol
state (`client.state`) counts every update never seen as a gap; `client.connection_missed` counts
those of the current connection alone, which is what the hub's `stats` counters (`dropped` plus
`throttled`) count too.
"""
import asyncio
import itertools
import json
import logging
import ssl as ssl_module
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .backoff import Backoff
from .books import BookState, CandleSeries
from .codec import ZSTD_SUBPROTOCOL, Decoder
from .state import UPDATE_TYPES, SymbolState

log = logging.getLogger("tickerhub_client")

#: Every close code the hub sends (docs/PROTOCOL.md, "Close codes"), and what it means to a client.
#: The 44xx ones close a browser's refused handshake; this client sends no Origin, and gets the HTTP
#: refusal instead.
CLOSE_CODES = {
    1001: "going away: the hub is shutting down, or a ping went unanswered (reconnect)",
    1002: "protocol error", 1007: "invalid payload", 1008: "policy violation: too many requests",
    1009: "message too big", 1012: "feed restarted: a new epoch (reconnect and re-base)",
    4001: "token expired", 4008: "slow consumer (reconnect and recover)",
    4401: "handshake refused: no or bad token", 4403: "handshake refused: forbidden",
    4429: "handshake refused: too many connections", 4503: "handshake refused: hub full",
}
#: Close codes after which connecting again would only be refused again.
FATAL_CLOSE_CODES = {
    1002: "protocol error", 1003: "unsupported data", 1007: "invalid payload", 1008: "policy violation",
    1009: "message too big", 1010: "extension required",
}
#: The hub closed us for a token that lapsed: fatal unless a `token_provider` can give a new one.
TOKEN_EXPIRED = 4001
#: The hub evicted us as a slow consumer: we reconnect and recover.
SLOW_CONSUMER = 4008
#: Handshake answers worth retrying (full, or too many from this address); others are final.
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


class TickerHubError(Exception):
    """An `error` answer to a request."""

    def __init__(self, message: dict):
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code = message.get("code")
        self.symbols = message.get("symbols", [])
        self.message = message


class TickerHubClosed(Exception):
    """The client stopped for good: a close code or handshake status that reconnecting cannot fix,
    or `close()`."""

    def __init__(self, code: int | None, reason: str):
        super().__init__(f"closed: {code} {reason}")
        self.code = code
        self.reason = reason


class HubUnavailable(ConnectionError):
    """`connect()` found no hub to talk to within its timeout (refused, unreachable, or silent)."""


class ConnectionLost(Exception):
    """The connection a request went out on closed before its answer."""


@dataclass
class Update:
    """One market message: `type` is quote, trade, snapshot or conflated (`state` a `SymbolState`),
    book or bookUpdate (`state` the `BookState` after it, checked), candle or candles (`state` the
    `CandleSeries`); `missed` is how many messages of its stream were never seen just before it."""
    type: str
    symbol: str
    seq: int
    data: dict
    missed: int
    state: "SymbolState | BookState | CandleSeries"


class TickerHubClient:
    def __init__(self, url: str | list[str], *, token: str | None = None,
                 token_provider: Callable[[], Awaitable[str]] | None = None, zstd: bool = False,
                 ssl: ssl_module.SSLContext | None = None, heartbeat_ms: int | None = None,
                 backoff: Backoff | None = None, max_queue: int = 10_000, refresh_margin: float = 30.0,
                 on_feed: Callable[[str, str | None], None] | None = None):
        # Several hubs of a cluster: the client starts on the first and, whenever it must reconnect,
        # moves on to the next, so clients of a node that dies spread over the others.
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("at least one hub URL")
        self.urls = [u if heartbeat_ms is None else f"{u}{'&' if '?' in u else '?'}heartbeat={heartbeat_ms}" for u in urls]
        self._url_index = 0
        #: "live", or "stale" while the hub says its feed lost its upstream (a `status` message).
        self.feed = "live"
        self.feed_stale_reason: str | None = None
        #: Called with ("stale", reason) or ("live", None) at each `status` message.
        self._on_feed = on_feed
        self._token = token
        self._token_provider = token_provider
        self._zstd = zstd
        self._ssl = ssl
        self._backoff = backoff or Backoff()
        self._refresh_margin = refresh_margin
        self._decoder = Decoder(ssl)
        self._updates: asyncio.Queue = asyncio.Queue(max_queue)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        #: Symbols (and patterns, `"EUR/*"`) followed on the quotes-and-trades channels, with their
        #: maximum frequency, and the channel (`"quotes"`, `"trades"`) of those not on the default one.
        self._desired: dict[str, float | None] = {}
        self._channels: dict[str, str] = {}
        #: Books by (symbol or pattern, depth), bars by (symbol or pattern, interval).
        self._desired_books: set[tuple[str, int]] = set()
        self._desired_candles: set[tuple[str, str]] = set()
        #: Per (symbol, depth), the book this client holds, checked after every message.
        self.books: dict[tuple[str, int], BookState] = {}
        #: Per (symbol, interval), the bars this client holds.
        self.candles: dict[tuple[str, str], CandleSeries] = {}
        #: Books subscribed again because a seq jumped or a checksum did not match.
        self.book_resyncs = 0
        self._ws = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._refresher: asyncio.Task | None = None
        self._closed: TickerHubClosed | None = None
        #: Whether the current connection got as far as a message after `welcome` (then the backoff restarts).
        self.connection_lasted = False
        #: Per symbol, what this client holds.
        self.state: dict[str, SymbolState] = {}
        #: The `welcome` of the current (or last) connection.
        self.welcome: dict | None = None
        #: Updates never seen on the current connection (its seq gaps); compare with `stats()`.
        self.connection_missed = 0
        #: Connections made, and how the last one ended.
        self.connections = 0
        self.last_close: tuple[int | None, str] | None = None
        #: Subscribes answered `recovered` and not, over every reconnect.
        self.recoveries = {"recovered": 0, "not_recovered": 0}
        #: Whether the current connection speaks `tickerhub.v1.zstd`.
        self.zstd_active = False
        #: Bytes of frames received, and of the JSON they held (the same without zstd).
        self.bytes_received = 0
        self.json_bytes_received = 0
        #: `error` messages that answered no waiting request (e.g. `not_entitled` after an ack).
        self.errors: list[dict] = []
        #: What the last failed connection attempt met (for `connect()`'s error), or None.
        self.last_error: str | None = None
        #: Connections dropped because nothing came for two heartbeat intervals.
        self.heartbeats_missed = 0

    # MARK: Lifecycle

    async def connect(self, timeout: float | None = 10.0) -> "TickerHubClient":
        """Starts the connection loop and waits for the first `welcome`, a fatal refusal
        (`TickerHubClosed`), or `timeout` seconds (`HubUnavailable`, saying what the last attempt
        met, e.g. connection refused; the client is closed then). `timeout=None` waits for as long
        as it takes, reconnecting with backoff."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self._wait_ready(), timeout)
        except asyncio.TimeoutError:
            last = self.last_error or (f"closed with {self.last_close[0]}: {self.last_close[1]}" if self.last_close else "no answer")
            await self.close()
            raise HubUnavailable(f"no connection to {self.url} within {timeout} s (last attempt: {last})") from None
        return self

    @property
    def status(self) -> str:
        """"connected", "reconnecting" (between connections, or before the first), or "closed"."""
        if self._closed:
            return "closed"
        return "connected" if self._ready.is_set() else "reconnecting"

    async def close(self) -> None:
        self._closed = self._closed or TickerHubClosed(1000, "closed by the client")
        if self._ws is not None:
            await self._ws.close()
        for task in (self._task, self._refresher):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._refresher) if t), return_exceptions=True)
        self._fail_pending(ConnectionLost("client closed"))
        try:
            self._updates.put_nowait(self._closed)
        except asyncio.QueueFull:
            pass  # the iterator finds `_closed` once it drains

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc):
        await self.close()

    async def reconnect(self) -> None:
        """Drops the current connection; the client connects again at once and recovers (as after a
        network change, or to move to another hub behind the same address)."""
        if self._ws is not None:
            await self._ws.close(1000, "reconnecting")
            self._backoff.reset()

    @property
    def epoch(self) -> str | None:
        return self.welcome.get("epoch") if self.welcome else None

    # MARK: Requests

    async def subscribe(self, symbols: list[str], max_frequency: float | None = None, channel: str | None = None) -> dict:
        """Subscribes (and keeps subscribing after reconnects); returns the hub's `ack`. Symbols the
        token does not grant come back in `client.errors` as `not_entitled`. `channel` is None
        (quotes and trades), `"quotes"` or `"trades"`; a name ending in `*` is a pattern, which
        takes every symbol it matches, and those that appear later."""
        if channel not in (None, "quotes", "trades"):
            raise ValueError("channel is None, 'quotes' or 'trades' (books and bars: subscribe_book, subscribe_candles)")
        for symbol in symbols:
            self._desired[symbol] = max_frequency
            if channel is None:
                self._channels.pop(symbol, None)
            else:
                self._channels[symbol] = channel
            self.state.pop(symbol, None)  # another channel numbers its own: start from its snapshot
        request = {"op": "subscribe", "symbols": list(symbols)}
        if channel is not None:
            request["channel"] = channel
        if max_frequency is not None:
            request["maxFrequency"] = max_frequency
        return await self._request_until_answered(request)

    async def unsubscribe(self, symbols: list[str]) -> dict:
        """Each symbol leaves the channel it is on (one request per channel); returns the last `ack`."""
        by_channel: dict[str | None, list[str]] = {}
        for symbol in symbols:
            by_channel.setdefault(self._channels.pop(symbol, None), []).append(symbol)
            self._desired.pop(symbol, None)
            self.state.pop(symbol, None)
        answer: dict = {}
        for channel, names in by_channel.items():
            request = {"op": "unsubscribe", "symbols": names}
            if channel is not None:
                request["channel"] = channel
            answer = await self._request_until_answered(request)
        return answer

    async def subscribe_book(self, symbols: list[str], depth: int = 10) -> dict:
        """Follows the order books of `symbols` at `depth` (10, 25 or 100) in `client.books`: each
        message's checksum is verified, and a book that falls out of step (a seq jump, a checksum
        that does not match) is subscribed again for a fresh snapshot (`client.book_resyncs`)."""
        for symbol in symbols:
            self._desired_books.add((symbol, depth))
        return await self._request_until_answered({"op": "subscribe", "channel": "book", "symbols": list(symbols), "depth": depth})

    async def unsubscribe_book(self, symbols: list[str], depth: int = 10) -> dict:
        for symbol in symbols:
            self._desired_books.discard((symbol, depth))
            self.books.pop((symbol, depth), None)
        return await self._request_until_answered({"op": "unsubscribe", "channel": "book", "symbols": list(symbols), "depth": depth})

    async def subscribe_candles(self, symbols: list[str], interval: str = "1m") -> dict:
        """Follows the bars of `symbols` at `interval` (1s, 1m, 5m, 1h) in `client.candles`;
        `backfill_candles` adds their history."""
        for symbol in symbols:
            self._desired_candles.add((symbol, interval))
        return await self._request_until_answered({"op": "subscribe", "channel": "candles", "symbols": list(symbols), "interval": interval})

    async def backfill_candles(self, symbol: str, interval: str = "1m", limit: int = 300) -> CandleSeries:
        """Adds the hub's last `limit` bars (`GET /v1/candles`) to `client.candles[(symbol, interval)]`.
        Subscribe first, then backfill: the two merge by bar start, without a gap."""
        import urllib.parse
        import urllib.request
        base = self.url.split("?")[0].replace("wss://", "https://").replace("ws://", "http://").rsplit("/", 1)[0]
        query = urllib.parse.urlencode({"symbol": symbol, "interval": interval, "limit": limit})
        request = urllib.request.Request(f"{base}/v1/candles?{query}",
                                         headers={"Authorization": f"Bearer {self._token}"} if self._token else {})

        def fetch():
            with urllib.request.urlopen(request, timeout=10, context=self._ssl) as response:
                return json.loads(response.read())

        answer = await asyncio.to_thread(fetch)
        series = self.candles.setdefault((symbol, interval), CandleSeries(symbol, interval))
        series.merge_backfill(answer)
        return series

    async def stats(self) -> dict:
        """This connection's counters at the hub: delivered, dropped, throttled, conflated, ..."""
        return (await self._request_until_answered({"op": "stats"}))["counters"]

    async def ping(self) -> float:
        """Round trip to the hub and back through its request queue, in seconds."""
        started = time.monotonic()
        await self._request_until_answered({"op": "ping"})
        return time.monotonic() - started

    async def list_symbols(self) -> list[str]:
        names, after = [], None
        while True:
            page = await self._request_until_answered({"op": "list", **({"after": after} if after else {})})
            names += page["symbols"]
            after = page.get("next")
            if not after:
                return names

    async def _request_until_answered(self, request: dict) -> dict:
        while True:
            await self._wait_ready()
            try:
                return await self._request(dict(request))
            except ConnectionLost:
                continue  # the next connection resubscribes; ask again there

    async def _request(self, request: dict) -> dict:
        request_id = next(self._ids)
        request["id"] = request_id
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(_json(request))
        except ConnectionClosed:
            self._pending.pop(request_id, None)
            raise ConnectionLost()
        return await future

    # MARK: Updates

    def __aiter__(self):
        return self

    async def __anext__(self) -> Update:
        # After close() the iteration ends at once; after a fatal close, what was queued comes first.
        if self._closed and (self._updates.empty() or self._closed.code == 1000):
            self._end_iteration(self._closed)
        item = await self._updates.get()
        if isinstance(item, TickerHubClosed):
            self._updates.put_nowait(item)  # every later call ends too
            self._end_iteration(item)
        return item

    def _end_iteration(self, closed: "TickerHubClosed"):
        """`close()` ends the iteration quietly; a fatal close raises."""
        if closed.code == 1000:
            raise StopAsyncIteration
        raise closed

    # MARK: The connection loop

    async def _wait_ready(self):
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
        if self._closed:
            raise self._closed

    async def _run(self):
        while not self._closed:
            try:
                await self._connect_once()
                if self.connection_lasted:
                    self._backoff.reset()
            except InvalidStatus as refusal:
                status = refusal.response.status_code
                if status not in RETRYABLE_STATUSES:
                    self._stop(None, f"handshake refused with HTTP {status}: {refusal.response.body[:200]!r}")
                    return
                log.info("handshake refused with %s; retrying", status)
            except (OSError, asyncio.TimeoutError, ConnectionClosed, websockets.InvalidHandshake) as error:
                self.last_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                log.info("connection failed: %s", error)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug here, or a message we cannot read: stop and say why
                log.exception("client stopped")
                self._stop(None, f"client error: {error!r}")
                return
            if self._closed:
                return
            code, reason = self.last_close or (None, "")
            if code in FATAL_CLOSE_CODES or (code == TOKEN_EXPIRED and self._token_provider is None):
                self._stop(code, reason or FATAL_CLOSE_CODES.get(code, "token expired"))
                return
            self._url_index = (self._url_index + 1) % len(self.urls)
            await asyncio.sleep(self._backoff.next_delay())

    @property
    def url(self) -> str:
        """The hub this client is (or will next be) connected to."""
        return self.urls[self._url_index]

    async def _connect_once(self):
        self._ready.clear()
        self.connection_lasted = False
        self.last_close = None
        if self._token_provider is not None:
            self._token = await self._token_provider()
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        subprotocols = [ZSTD_SUBPROTOCOL] if self._zstd else None
        async with websockets.connect(self.url, additional_headers=headers, subprotocols=subprotocols, ssl=self._ssl,
                                      compression=None if self._zstd else "deflate", max_queue=None,
                                      open_timeout=10) as ws:
            self.zstd_active = ws.subprotocol == ZSTD_SUBPROTOCOL
            if self.zstd_active:
                self._decoder.use_zstd(self.url)
            else:
                self._decoder.use_plain()
            self._ws = ws
            try:
                self.welcome = await self._decode(await ws.recv())
                self.feed, self.feed_stale_reason = "live", None  # a stale hub says so right after welcome
                self.connections += 1
                self.connection_missed = 0
                self._schedule_refresh()
                reader = asyncio.create_task(self._read(ws))
                await self._resubscribe(ws)
                self._ready.set()
                await reader
            finally:
                self._ready.clear()
                code = ws.close_code
                self.last_close = (code, ws.close_reason or "") if code is not None else (1006, "connection lost")
                self._fail_pending(ConnectionLost())
                self._ws = None

    async def _resubscribe(self, ws):
        """Subscribes again to every symbol held, in groups by channel and maximum frequency, with
        `since` where the state is of this hub's epoch (so the hub can replay what was missed); then
        every book and every series of bars, which start again from their snapshots."""
        groups: dict[tuple[str | None, float | None, bool], list[str]] = {}
        for symbol, frequency in self._desired.items():
            groups.setdefault((self._channels.get(symbol), frequency, "*" in symbol), []).append(symbol)
        for (channel, frequency, patterns), symbols in groups.items():
            request = {"op": "subscribe", "symbols": symbols}
            if channel is not None:
                request["channel"] = channel
            if frequency is not None:
                request["maxFrequency"] = frequency
            since = {} if patterns else {s: self.state[s].seq for s in symbols
                                         if s in self.state and self.state[s].seq and self.state[s].epoch == self.epoch}
            if since:
                request["since"] = since
                request["epoch"] = self.epoch
            try:
                ack = await self._request(request)
            except TickerHubError as error:
                self.errors.append(error.message)
                continue
            if "recovered" in ack:
                self.recoveries["recovered"] += len(since) - len(ack.get("notRecovered", []))
                self.recoveries["not_recovered"] += len(ack.get("notRecovered", []))
        for key in list(self.books):
            self.books[key].in_step = False  # until the new connection's snapshot
        by_depth: dict[int, list[str]] = {}
        for symbol, depth in self._desired_books:
            by_depth.setdefault(depth, []).append(symbol)
        by_interval: dict[str, list[str]] = {}
        for symbol, interval in self._desired_candles:
            by_interval.setdefault(interval, []).append(symbol)
        requests = [{"op": "subscribe", "channel": "book", "symbols": sorted(names), "depth": depth} for depth, names in by_depth.items()]
        requests += [{"op": "subscribe", "channel": "candles", "symbols": sorted(names), "interval": interval}
                     for interval, names in by_interval.items()]
        for request in requests:
            try:
                await self._request(request)
            except TickerHubError as error:
                self.errors.append(error.message)

    async def _read(self, ws):
        # With heartbeats on, nothing for two intervals means the link is dead however open it looks
        # (a half-open TCP connection reports no close): drop it, and the loop reconnects.
        interval = ((self.welcome or {}).get("heartbeatMs") or 0) / 1000
        try:
            while True:
                try:
                    frame = await (asyncio.wait_for(ws.recv(), 2 * interval) if interval else ws.recv())
                except asyncio.TimeoutError:
                    self.heartbeats_missed += 1
                    log.warning("nothing from %s for %.1f s (two heartbeats): reconnecting", self.url, 2 * interval)
                    ws.transport.abort()
                    return
                message = await self._decode(frame)
                kind = message.get("type")
                if kind in UPDATE_TYPES or kind in ("snapshot", "conflated"):
                    await self._deliver(message)
                elif kind in ("book", "bookUpdate"):
                    await self._deliver_book(message)
                elif kind in ("candle", "candles"):
                    await self._deliver_candles(message)
                elif message.get("id") in self._pending:
                    future = self._pending.pop(message["id"])
                    if kind == "error":
                        future.set_exception(TickerHubError(message))
                    else:
                        future.set_result(message)
                elif kind == "error":
                    self.errors.append(message)
                    log.warning("hub error: %s", message)
                elif kind == "status":
                    self.feed = message.get("feed", "live")
                    self.feed_stale_reason = message.get("reason") if self.feed == "stale" else None
                    log.info("hub feed %s%s", self.feed, f": {self.feed_stale_reason}" if self.feed_stale_reason else "")
                    if self._on_feed is not None:
                        self._on_feed(self.feed, self.feed_stale_reason)
                self.connection_lasted = True
        except ConnectionClosed:
            pass

    @staticmethod
    def _follows(symbol: str, names) -> bool:
        """Whether `symbol` is one of `names`, or matches one of them that is a pattern."""
        return symbol in names or any(name.endswith("*") and symbol.startswith(name[:-1]) for name in names)

    async def _deliver_book(self, message: dict):
        key = (message["symbol"], message["depth"])
        if not self._follows(key[0], {s for s, d in self._desired_books if d == key[1]}):
            return  # in flight when we unsubscribed
        book = self.books.setdefault(key, BookState(*key))
        was_in_step = book.in_step
        in_step = book.apply(message)
        if in_step:
            await self._updates.put(Update(message["type"], key[0], message["seq"], message, 0, book))
        elif was_in_step or message["type"] == "book":
            # A seq jump or a checksum that does not match: a fresh snapshot puts it right.
            self.book_resyncs += 1
            log.warning("book %s@%s out of step at seq %s: subscribing again", key[0], key[1], message["seq"])
            asyncio.create_task(self._resync_book(*key))

    async def _resync_book(self, symbol: str, depth: int):
        try:
            await self._request({"op": "unsubscribe", "channel": "book", "symbols": [symbol], "depth": depth})
            await self._request({"op": "subscribe", "channel": "book", "symbols": [symbol], "depth": depth})
        except (TickerHubError, ConnectionLost, ConnectionClosed) as error:
            log.info("book resync of %s: %s (the next connection subscribes again)", symbol, error)

    async def _deliver_candles(self, message: dict):
        key = (message["symbol"], message["interval"])
        if not self._follows(key[0], {s for s, i in self._desired_candles if i == key[1]}):
            return
        series = self.candles.setdefault(key, CandleSeries(*key))
        missed = series.apply(message)
        await self._updates.put(Update(message["type"], key[0], message["seq"], message, missed, series))

    async def _deliver(self, message: dict):
        symbol = message["symbol"]
        if not self._follows(symbol, self._desired):
            return  # an update already in flight when we unsubscribed
        state = self.state.get(symbol)
        if state is None:
            state = self.state[symbol] = SymbolState(symbol, epoch=self.epoch)
        seq_before = state.seq
        missed = state.apply(message)
        # A gap within this connection is the hub's drop (or throttle); one across a reconnect is not.
        if message["type"] != "snapshot":
            self.connection_missed += missed
        if state.seq != seq_before or message["type"] == "snapshot":
            await self._updates.put(Update(message["type"], symbol, message["seq"], message, missed, state))

    async def _decode(self, frame):
        self.bytes_received += len(frame)
        if isinstance(frame, bytes) and self._decoder.needs_dictionary(frame):
            await asyncio.to_thread(self._decoder.fetch_dictionary, frame)  # once per dictionary, off the loop
        text = self._decoder.text(frame)
        self.json_bytes_received += len(text)
        return json.loads(text)

    # MARK: Tokens

    def _schedule_refresh(self):
        """With a `token_provider`, sends `auth` with a fresh token before the current one lapses."""
        if self._refresher is not None:
            self._refresher.cancel()
        expires = (self.welcome or {}).get("tokenExpiresAt")
        if self._token_provider is None or not expires:
            return

        async def refresh(expires_at_ms):
            while True:
                await asyncio.sleep(max(0.0, expires_at_ms / 1000 - time.time() - self._refresh_margin))
                self._token = await self._token_provider()
                try:
                    ack = await self._request({"op": "auth", "token": self._token})
                    expires_at_ms = ack["tokenExpiresAt"]
                except (TickerHubError, ConnectionLost) as error:
                    log.warning("token refresh failed: %s", error)
                    return

        self._refresher = asyncio.create_task(refresh(expires))

    # MARK: Ending

    def _stop(self, code, reason):
        self._closed = TickerHubClosed(code, reason)
        self._fail_pending(self._closed)
        try:
            self._updates.put_nowait(self._closed)
        except asyncio.QueueFull:
            pass

    def _fail_pending(self, error):
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"))
