"""Order books and bars as a client keeps them (docs/PROTOCOL.md, "Order books" and "Candles")."""
import zlib
from dataclasses import dataclass, field
from decimal import Decimal


def price_digits(price: str) -> str:
    """A price's digits for the checksum: its text without the point and leading zeros, sign kept."""
    sign = "-" if price.startswith("-") else ""
    digits = price.lstrip("-").replace(".", "").lstrip("0")
    return sign + (digits or "0")


def book_checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """CRC-32 of the top 10 asks (lowest first) then the top 10 bids (highest first), each level as
    its price's digits then its size's."""
    text = "".join(price_digits(p) + s for p, s in asks[:10]) + "".join(price_digits(p) + s for p, s in bids[:10])
    return zlib.crc32(text.encode())


@dataclass
class BookState:
    """One symbol's book at one depth: `bids` highest first and `asks` lowest first, each level
    `(price, size)` as the hub's strings. `in_step` is False once a seq jumped or a checksum did not
    match: the client then subscribes the book again, and the next `book` snapshot puts it right."""
    symbol: str
    depth: int
    seq: int = 0
    bids: list[tuple[str, str]] = field(default_factory=list)
    asks: list[tuple[str, str]] = field(default_factory=list)
    in_step: bool = False
    #: Checksums verified, `book` snapshots taken, and how often the book fell out of step.
    verified: int = 0
    snapshots: int = 0
    mismatches: int = 0
    gaps: int = 0

    def apply(self, message: dict) -> bool:
        """Folds a `book` or `bookUpdate` in; returns whether the book is in step after it."""
        if message["type"] == "book":
            self.bids = [tuple(level) for level in message["bids"]]
            self.asks = [tuple(level) for level in message["asks"]]
            self.snapshots += 1
        else:
            if not self.in_step:
                return False  # waiting for the snapshot a resubscribe brings
            if message["seq"] != self.seq + 1:
                self.gaps += 1
                self.in_step = False
                return False
            self.bids = _applied(self.bids, message["bids"], descending=True, depth=self.depth)
            self.asks = _applied(self.asks, message["asks"], descending=False, depth=self.depth)
        self.seq = message["seq"]
        self.in_step = book_checksum(self.bids, self.asks) == message["checksum"]
        if self.in_step:
            self.verified += 1
        else:
            self.mismatches += 1
        return self.in_step

    @property
    def best_bid(self) -> tuple[str, str] | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> tuple[str, str] | None:
        return self.asks[0] if self.asks else None


def _applied(levels: list[tuple[str, str]], changes: list[list[str]], descending: bool, depth: int) -> list[tuple[str, str]]:
    book = dict(levels)
    for price, size in changes:
        if size == "0":
            book.pop(price, None)
        else:
            book[price] = size
    ordered = sorted(book.items(), key=lambda level: Decimal(level[0]), reverse=descending)
    return ordered[:depth]


@dataclass
class CandleSeries:
    """One symbol's bars at one interval, by `start` (ns since the epoch): what a chart draws. Live
    `candle` messages and a backfill (`GET /v1/candles`) merge by `start`, so subscribing first and
    backfilling after leaves no gap."""
    symbol: str
    interval: str
    seq: int = 0
    bars: dict[int, dict] = field(default_factory=dict)
    gaps: int = 0

    def apply(self, message: dict) -> int:
        """Folds a `candle` or `candles` message in; returns the messages missed just before it."""
        missed = message["seq"] - self.seq - 1 if self.seq and message["type"] == "candle" else 0
        if message["type"] == "candles":
            missed = max(0, message["seq"] - self.seq - 1) if self.seq else 0
            for bar in message["bars"]:
                self.bars[bar["start"]] = _bar(bar)
        else:
            self.bars[message["start"]] = _bar(message)
        self.gaps += max(0, missed)
        self.seq = max(self.seq, message["seq"])
        return max(0, missed)

    def merge_backfill(self, answer: dict) -> None:
        """The bars of a `GET /v1/candles` answer; a bar already held from a newer live message stays."""
        for bar in answer["bars"]:
            if answer["seq"] >= self.seq or bar["start"] not in self.bars:
                self.bars[bar["start"]] = _bar(bar)

    def ordered(self) -> list[dict]:
        """The bars, oldest first."""
        return [self.bars[start] for start in sorted(self.bars)]


def _bar(message: dict) -> dict:
    return {k: message[k] for k in ("start", "open", "high", "low", "close", "volume", "trades", "closed")}
