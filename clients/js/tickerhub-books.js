// Order books and bars as a client keeps them (docs/PROTOCOL.md, "Order books" and "Candles"): the
// state behind TickerHubClient's `book` and `candles` channels, usable on its own too. No
// dependencies; prices stay the hub's decimal strings and are compared exactly, never as floats.

// ---- Prices --------------------------------------------------------------------------------------

/** Compares two decimal price strings exactly ("188.2" < "188.21"); negative prices allowed. */
export function comparePrices(a, b) {
  const x = decimalParts(a), y = decimalParts(b);
  const scale = Math.max(x.fraction.length, y.fraction.length);
  const ux = BigInt(x.sign + (x.whole + x.fraction.padEnd(scale, "0") || "0"));
  const uy = BigInt(y.sign + (y.whole + y.fraction.padEnd(scale, "0") || "0"));
  return ux < uy ? -1 : ux > uy ? 1 : 0;
}

function decimalParts(text) {
  const sign = text.startsWith("-") ? "-" : "";
  const [whole, fraction = ""] = (sign ? text.slice(1) : text).split(".");
  return { sign, whole, fraction };
}

// ---- The checksum --------------------------------------------------------------------------------

let crcTable = null;

/** CRC-32 (IEEE 802.3, zlib's) of a string of ASCII characters: "123456789" gives 0xCBF43926. */
export function crc32(text) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xFFFFFFFF;
  for (let i = 0; i < text.length; i++) crc = crcTable[(crc ^ text.charCodeAt(i)) & 0xFF] ^ (crc >>> 8);
  return (crc ^ 0xFFFFFFFF) >>> 0;
}

/** A price's digits for the checksum: its text without the point and leading zeros, sign kept. */
export function priceDigits(price) {
  const sign = price.startsWith("-") ? "-" : "";
  const digits = price.replace("-", "").replace(".", "").replace(/^0+/, "");
  return sign + (digits || "0");
}

/** The book checksum: CRC-32 of the top 10 asks (lowest first) then the top 10 bids (highest
 * first), each level as its price's digits then its size's. */
export function bookChecksum(bids, asks) {
  let text = "";
  for (const [price, size] of asks.slice(0, 10)) text += priceDigits(price) + size;
  for (const [price, size] of bids.slice(0, 10)) text += priceDigits(price) + size;
  return crc32(text);
}

// ---- Books ---------------------------------------------------------------------------------------

/** One symbol's book at one depth: `bids` highest first and `asks` lowest first, each level
 * `[price, size]` as the hub's strings. `inStep` is false once a seq jumped or a checksum did not
 * match: the client then subscribes the book again, and the next `book` snapshot puts it right. */
export class BookState {
  constructor(symbol, depth) {
    Object.assign(this, { symbol, depth, seq: 0, bids: [], asks: [], inStep: false, ts: 0 });
    /** Checksums verified, `book` snapshots taken, and how often the book fell out of step. */
    Object.assign(this, { verified: 0, snapshots: 0, mismatches: 0, gaps: 0 });
  }

  /** Folds a `book` or `bookUpdate` in; returns whether the book is in step after it. */
  apply(m) {
    if (m.type === "book") {
      this.bids = m.bids.map(([price, size]) => [price, size]);
      this.asks = m.asks.map(([price, size]) => [price, size]);
      this.snapshots++;
    } else {
      if (!this.inStep) return false;   // waiting for the snapshot a resubscribe brings
      if (m.seq !== this.seq + 1) {
        this.gaps++;
        this.inStep = false;
        return false;
      }
      this.bids = applyLevels(this.bids, m.bids, -1, this.depth);
      this.asks = applyLevels(this.asks, m.asks, 1, this.depth);
    }
    this.seq = m.seq;
    this.ts = m.ts;
    this.inStep = bookChecksum(this.bids, this.asks) === m.checksum;
    if (this.inStep) this.verified++; else this.mismatches++;
    return this.inStep;
  }

  get bestBid() { return this.bids[0] || null; }
  get bestAsk() { return this.asks[0] || null; }
}

// The changes in order (removals come first in a message, so a kept book never drops a level that
// stays), then the side sorted best first and cut to `depth`. `direction` -1 sorts highest first.
function applyLevels(levels, changes, direction, depth) {
  const book = new Map(levels);
  for (const [price, size] of changes) {
    if (size === "0") book.delete(price); else book.set(price, size);
  }
  return [...book].sort((a, b) => direction * comparePrices(a[0], b[0])).slice(0, depth);
}

// ---- Bars ----------------------------------------------------------------------------------------

const BAR_FIELDS = ["start", "open", "high", "low", "close", "volume", "trades", "closed"];

/** One symbol's bars at one interval, by `start` (ns since the epoch, a number: exact for bar
 * starts, which are whole seconds): what a chart draws. Live `candle` messages and a backfill
 * (`GET /v1/candles`) merge by `start`, so subscribing first and backfilling after leaves no gap. */
export class CandleSeries {
  constructor(symbol, interval) {
    Object.assign(this, { symbol, interval, seq: 0, gaps: 0 });
    /** @type {Map<number, object>} start -> bar */
    this.bars = new Map();
  }

  /** Folds a `candle` or `candles` message in; returns the messages missed just before it. */
  apply(m) {
    const missed = this.seq ? Math.max(0, m.seq - this.seq - 1) : 0;
    if (m.type === "candles") { for (const bar of m.bars) this.bars.set(bar.start, pickBar(bar)); }
    else this.bars.set(m.start, pickBar(m));
    this.gaps += missed;
    this.seq = Math.max(this.seq, m.seq);
    return missed;
  }

  /** The bars of a `GET /v1/candles` answer; a bar already held from a newer live message stays. */
  mergeBackfill(answer) {
    for (const bar of answer.bars) {
      if (answer.seq >= this.seq || !this.bars.has(bar.start)) this.bars.set(bar.start, pickBar(bar));
    }
  }

  /** The bars, oldest first. */
  ordered() { return [...this.bars.values()].sort((a, b) => a.start - b.start); }

  /** Keeps the newest `limit` bars (a chart that runs for days need not keep them all). */
  trim(limit) {
    if (this.bars.size <= limit) return;
    const starts = [...this.bars.keys()].sort((a, b) => a - b);
    for (const start of starts.slice(0, starts.length - limit)) this.bars.delete(start);
  }
}

function pickBar(m) {
  const bar = {};
  for (const key of BAR_FIELDS) bar[key] = m[key];
  return bar;
}
