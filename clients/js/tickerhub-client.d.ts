// Type declarations for tickerhub-client.js (protocol tickerhub.v1, docs/PROTOCOL.md).

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
  on(event: "update", handler: (update: Update) => void): () => void;
  on(event: "welcome", handler: (welcome: Welcome) => void): () => void;
  on(event: "status", handler: (status: Status) => void): () => void;
  on(event: "feed", handler: (feed: FeedStatus) => void): () => void;
  on(event: "error", handler: (error: ErrorMessage) => void): () => void;
  on(event: "closed", handler: (close: { code: number; reason: string }) => void): () => void;
  connect(): Promise<Welcome>;
  close(): void;
  reconnect(): void;
  /** Whether `symbol` is among the subscriptions the client keeps (asked for, and not unsubscribed). */
  isSubscribed(symbol: string): boolean;
  subscribe(symbols: string[], options?: { maxFrequency?: number | null }): Promise<Ack>;
  unsubscribe(symbols: string[]): Promise<Ack>;
  stats(): Promise<Record<string, number>>;
  ping(): Promise<number>;
  list(): Promise<string[]>;
  setToken(token: string): Promise<Ack | null>;
}
