// Type declarations for tickerhub-client.js (protocol tickerhub.v1, docs/PROTOCOL.md).
import type { BookMessage, BookState, CandleInterval, CandleMessage, CandlesMessage, CandleSeries } from "./tickerhub-books.js";

export { BookState, CandleSeries, bookChecksum, comparePrices, crc32 } from "./tickerhub-books.js";
export type { Bar, BookMessage, CandleInterval, CandleMessage, CandlesMessage, CandlesBackfill, Level } from "./tickerhub-books.js";

export declare const CloseCodes: Readonly<{
  NORMAL: 1000; GOING_AWAY: 1001; PROTOCOL_ERROR: 1002; UNSUPPORTED_DATA: 1003; ABNORMAL: 1006;
  INVALID_PAYLOAD: 1007; POLICY_VIOLATION: 1008; MESSAGE_TOO_BIG: 1009; INTERNAL_ERROR: 1011;
  SERVICE_RESTART: 1012; TOKEN_EXPIRED: 4001; SLOW_CONSUMER: 4008;
  UNAUTHORIZED: 4401; FORBIDDEN: 4403; TOO_MANY_REQUESTS: 4429; HUB_FULL: 4503; HEARTBEAT_MISSED: 4900;
}>;

/** The hub closed the client for good; `connect()` and pending requests reject with it. */
export declare class TickerHubClosed extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string);
}

/** A market message as the hub sends it: prices are decimal strings, `ts` nanoseconds since the epoch. */
export interface MarketMessage {
  type: "quote" | "trade" | "snapshot" | "conflated";
  symbol: string;
  seq: number;
  ts: number;
  epoch?: string;
  bid?: string; ask?: string; bidSize?: number; askSize?: number;
  price?: string; size?: number;
  last?: string; lastSize?: number; open?: string;
  /** Session statistics, once the symbol traded (docs/PROTOCOL.md, "Instruments"). */
  high?: string; low?: string; volume?: number; vwap?: string;
  /** The instrument's details, in snapshots once the feed gave them. */
  tickSize?: string; lotSize?: number; currency?: string; name?: string;
}

/** The `channel` of a quotes-and-trades subscription: null for both. */
export type Channel = null | "quotes" | "trades";

export interface BookEvent {
  type: BookMessage["type"];
  symbol: string;
  depth: number;
  seq: number;
  data: BookMessage;
  /** The book after this message, its checksum verified. */
  book: BookState;
}

export interface ResyncEvent { symbol: string; depth: number; seq: number; book: BookState }

export interface CandleEvent {
  type: "candle" | "candles";
  symbol: string;
  interval: CandleInterval;
  seq: number;
  data: CandleMessage | CandlesMessage;
  /** Messages of this stream missed just before this one (a slow client's conflation). */
  missed: number;
  series: CandleSeries;
}

export declare class SymbolState {
  readonly symbol: string;
  seq: number;
  epoch: string | null;
  fields: Partial<Omit<MarketMessage, "type" | "symbol" | "seq" | "epoch">>;
  /** Updates of this symbol never seen, over every connection. */
  gaps: number;
  duplicates: number;
  constructor(symbol: string, epoch?: string | null);
  apply(message: MarketMessage): number;
}

export interface Update {
  type: MarketMessage["type"];
  symbol: string;
  seq: number;
  data: MarketMessage;
  /** Updates of this symbol missed just before this one. */
  missed: number;
  state: SymbolState;
}

export interface Welcome {
  type: "welcome"; protocol: "tickerhub.v1"; heartbeatMs: number; maxSymbols: number; feed: string;
  server: string; zstdDictionary?: number | null; tokenExpiresAt?: number; epoch?: string; history?: number;
}

export interface Ack {
  type: "ack"; id: number; op: string; symbols?: string[]; updateIntervalMs?: number;
  channel?: string; depth?: number; interval?: CandleInterval; patterns?: string[];
  recovered?: boolean; notRecovered?: string[]; tokenExpiresAt?: number;
}

export interface ErrorMessage { type: "error"; id?: number | null; code: string; message: string; symbols?: string[] }

export type Status =
  | { status: "connecting" | "connected" | "idle" }
  | { status: "reconnecting"; code: number; reason: string; delayMs: number }
  | { status: "waiting-for-token" | "closed"; code: number; reason?: string };

export declare class TickerHubError extends Error {
  readonly code: string;
  readonly symbols: string[];
  readonly answer: ErrorMessage;
}

export declare class ConnectionLost extends Error {}

export declare class Backoff {
  constructor(options?: { initialMs?: number; maxMs?: number; random?: () => number });
  nextDelay(): number;
  reset(): void;
}

export interface ClientOptions {
  /** A WebSocket constructor: the browser's (default), Node 22's, or the `ws` package's. */
  WebSocket?: unknown;
  /** Sent as `?token=`; see docs/PROTOCOL.md, "Authentication". */
  token?: string | null;
  /** Called for each connection, and 30 s before a token lapses (then sent as `auth`). */
  tokenProvider?: (() => string | Promise<string>) | null;
  heartbeatMs?: number | null;
  backoff?: Backoff;
}

/** The hub's feed: `stale` while it lost its upstream and serves its last values. */
export interface FeedStatus {
  feed: "live" | "stale";
  reason: string | null;
}

export declare class TickerHubClient {
  /** One hub, or several of a cluster: the client moves to the next each time it reconnects. */
  constructor(url: string | string[], options?: ClientOptions);
  readonly urls: string[];
  /** The hub this client is (or will next be) connected to. */
  readonly url: string;
  readonly feed: FeedStatus;
  readonly state: Map<string, SymbolState>;
  readonly welcome: Welcome | null;
  readonly epoch: string | null;
  /** The WebSocket extensions of the current connection (permessage-deflate, when negotiated). */
  readonly extensions: string;
  readonly connections: number;
  /** Updates never seen on the current connection: equals the hub's dropped + throttled for it. */
  readonly connectionMissed: number;
  readonly lastClose: { code: number; reason: string } | null;
  readonly recoveries: { recovered: number; notRecovered: number };
  readonly status: Status["status"];
  /** Books subscribed again because a seq jumped or a checksum did not match. */
  readonly bookResyncs: number;
  /** `${symbol}@${depth}` -> the book held. */
  readonly books: Map<string, BookState>;
  /** `${symbol}@${interval}` -> the bars held. */
  readonly candleSeries: Map<string, CandleSeries>;
  on(event: "update", handler: (update: Update) => void): () => void;
  on(event: "welcome", handler: (welcome: Welcome) => void): () => void;
  on(event: "status", handler: (status: Status) => void): () => void;
  on(event: "feed", handler: (feed: FeedStatus) => void): () => void;
  on(event: "error", handler: (error: ErrorMessage) => void): () => void;
  on(event: "closed", handler: (close: { code: number; reason: string }) => void): () => void;
  /** A book message, after its checksum matched. */
  on(event: "book", handler: (event: BookEvent) => void): () => void;
  /** A book fell out of step; the client subscribes it again. */
  on(event: "resync", handler: (event: ResyncEvent) => void): () => void;
  on(event: "candle", handler: (event: CandleEvent) => void): () => void;
  connect(): Promise<Welcome>;
  close(): void;
  reconnect(): void;
  /** Whether `symbol` is among the subscriptions the client keeps (asked for, and not unsubscribed). */
  isSubscribed(symbol: string): boolean;
  /** A name ending in `*` is a pattern: the symbols it matches now and those that appear later. */
  subscribe(symbols: string[], options?: { maxFrequency?: number | null; channel?: Channel }): Promise<Ack>;
  /** Each symbol leaves the channel it is on. */
  unsubscribe(symbols: string[]): Promise<Ack>;
  subscribeBook(symbols: string[], options?: { depth?: 10 | 25 | 100 }): Promise<Ack>;
  unsubscribeBook(symbols: string[], options?: { depth?: 10 | 25 | 100 }): Promise<Ack>;
  book(symbol: string, depth?: 10 | 25 | 100): BookState | undefined;
  subscribeCandles(symbols: string[], options?: { interval?: CandleInterval }): Promise<Ack>;
  unsubscribeCandles(symbols: string[], options?: { interval?: CandleInterval }): Promise<Ack>;
  candles(symbol: string, interval?: CandleInterval): CandleSeries | undefined;
  /** `GET /v1/candles` merged into `candles(symbol, interval)`; rejects with TickerHubError. */
  backfillCandles(symbol: string, options?: { interval?: CandleInterval; limit?: number }): Promise<CandleSeries>;
  stats(): Promise<Record<string, number>>;
  ping(): Promise<number>;
  list(): Promise<string[]>;
  setToken(token: string): Promise<Ack | null>;
}
