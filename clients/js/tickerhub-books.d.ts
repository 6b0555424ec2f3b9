// Type declarations for tickerhub-books.js (docs/PROTOCOL.md, "Order books" and "Candles").

/** One price level: `[price, size]`, both decimal strings as the hub sends them. */
export type Level = [price: string, size: string];

/** A `book` snapshot or a `bookUpdate` (changed levels only; size "0" removes a level). */
export interface BookMessage {
  type: "book" | "bookUpdate";
  symbol: string;
  depth: 10 | 25 | 100;
  seq: number;
  ts: number;
  bids: Level[];
  asks: Level[];
  /** CRC-32 of the top 10 levels per side after this message. */
  checksum: number;
}

export interface Bar {
  /** Nanoseconds since the Unix epoch, a whole multiple of the interval. */
  start: number;
  open: string; high: string; low: string; close: string;
  volume: number;
  trades: number;
  closed: boolean;
}

export type CandleInterval = "1s" | "1m" | "5m" | "1h";

export interface CandleMessage extends Bar {
  type: "candle";
  symbol: string;
  interval: CandleInterval;
  seq: number;
}

export interface CandlesMessage {
  type: "candles";
  symbol: string;
  interval: CandleInterval;
  seq: number;
  bars: Bar[];
}

/** What `GET /v1/candles` answers: the last bars, oldest first, and the stream's seq then. */
export interface CandlesBackfill {
  symbol: string;
  interval: CandleInterval;
  seq: number;
  bars: Bar[];
}

export declare function comparePrices(a: string, b: string): -1 | 0 | 1;
export declare function crc32(ascii: string): number;
export declare function priceDigits(price: string): string;
export declare function bookChecksum(bids: Level[], asks: Level[]): number;

export declare class BookState {
  readonly symbol: string;
  readonly depth: number;
  seq: number;
  ts: number;
  /** Highest price first. */
  bids: Level[];
  /** Lowest price first. */
  asks: Level[];
  /** False after a seq jump or a checksum mismatch, until the next `book` snapshot. */
  inStep: boolean;
  verified: number;
  snapshots: number;
  mismatches: number;
  gaps: number;
  constructor(symbol: string, depth: number);
  /** Folds a message in; returns whether the book is in step after it. */
  apply(message: BookMessage): boolean;
  readonly bestBid: Level | null;
  readonly bestAsk: Level | null;
}

export declare class CandleSeries {
  readonly symbol: string;
  readonly interval: CandleInterval;
  seq: number;
  gaps: number;
  /** start -> bar */
  readonly bars: Map<number, Bar>;
  constructor(symbol: string, interval: CandleInterval);
  /** Folds a live message in; returns the messages missed just before it. */
  apply(message: CandleMessage | CandlesMessage): number;
  mergeBackfill(answer: CandlesBackfill): void;
  /** Oldest first. */
  ordered(): Bar[];
  /** Keeps the newest `limit` bars. */
  trim(limit: number): void;
}
