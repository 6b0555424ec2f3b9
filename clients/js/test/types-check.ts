// Compiled by `tsc --noEmit --strict` (IntegrationTests/test_js_client.py), never run: it uses the
// client as a TypeScript program would, so a declaration that drifts from the API fails the build.
import {
  TickerHubClient, BookState, CandleSeries, bookChecksum, comparePrices,
  type Bar, type BookEvent, type CandleEvent, type Level, type Update,
} from "../tickerhub-client.js";

async function screen(): Promise<void> {
  const hub = new TickerHubClient(["ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8081/ws"], { heartbeatMs: 5000 });
  hub.on("update", (u: Update) => { const bid: string | undefined = u.state.fields.bid; void bid; });
  hub.on("book", (e: BookEvent) => {
    const best: Level | null = e.book.bestBid;
    const ok: boolean = bookChecksum(e.book.bids, e.book.asks) === e.data.checksum;
    void best; void ok;
  });
  hub.on("resync", e => { const depth: number = e.depth; void depth; });
  hub.on("candle", (e: CandleEvent) => { const bars: Bar[] = e.series.ordered(); void bars; });
  await hub.connect();
  const ack = await hub.subscribe(["EUR/*"], { channel: "trades", maxFrequency: 4 });
  const patterns: string[] | undefined = ack.patterns;
  await hub.subscribeBook(["AAPL"], { depth: 25 });
  await hub.subscribeCandles(["AAPL"], { interval: "1m" });
  const series: CandleSeries = await hub.backfillCandles("AAPL", { interval: "1m", limit: 100 });
  const book: BookState | undefined = hub.book("AAPL", 25);
  const order: number = comparePrices("1.10", "1.1");
  const resyncs: number = hub.bookResyncs;
  void patterns; void series; void book; void order; void resyncs;
  // @ts-expect-error: a book depth the hub does not serve
  await hub.subscribeBook(["AAPL"], { depth: 50 });
  // @ts-expect-error: books have their own method, not a channel of subscribe
  await hub.subscribe(["AAPL"], { channel: "book" });
}
void screen;
