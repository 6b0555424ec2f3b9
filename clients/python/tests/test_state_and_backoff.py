"""The client's pure parts: gap counting and re-basing per symbol, and the reconnect backoff."""
import random

from tickerhub_client import Backoff, SymbolState


def quote(seq, bid="1.00"):
    return {"type": "quote", "symbol": "AAPL", "seq": seq, "ts": seq, "bid": bid, "ask": "1.01", "bidSize": 1, "askSize": 2}


def test_a_seq_jump_is_counted_as_missed_updates_and_a_repeat_as_a_duplicate():
    state = SymbolState("AAPL", epoch="e1")
    assert state.apply({"type": "snapshot", "symbol": "AAPL", "seq": 10, "ts": 1, "epoch": "e1", "bid": "0.99"}) == 0
    assert state.apply(quote(11)) == 0
    assert state.apply(quote(15, "1.05")) == 3
    assert state.apply(quote(14)) == 0 and state.duplicates == 1
    assert state.apply({"type": "conflated", "symbol": "AAPL", "seq": 20, "ts": 2, "bid": "1.20", "last": "1.19"}) == 4
    assert (state.seq, state.gaps, state.fields["bid"], state.fields["last"]) == (20, 7, "1.20", "1.19")
    state.apply({"type": "trade", "symbol": "AAPL", "seq": 21, "ts": 3, "price": "1.21", "size": 5})
    assert state.fields["last"] == "1.21" and state.fields["lastSize"] == 5


def test_a_snapshot_of_another_epoch_rebases_without_a_gap_and_of_the_same_one_shows_it():
    state = SymbolState("AAPL", seq=500, epoch="e1")
    assert state.apply({"type": "snapshot", "symbol": "AAPL", "seq": 510, "ts": 1, "epoch": "e1"}) == 9
    assert state.apply({"type": "snapshot", "symbol": "AAPL", "seq": 3, "ts": 1, "epoch": "e2", "bid": "2.00"}) == 0
    assert (state.seq, state.epoch, state.gaps, state.fields) == (3, "e2", 9, {"ts": 1, "bid": "2.00"})


def test_backoff_grows_to_its_cap_with_full_jitter_and_resets():
    backoff = Backoff(initial=0.5, maximum=4, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings))
    assert len(set(delays)) == 8, "jittered"
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_a_book_follows_its_updates_checks_every_checksum_and_falls_out_of_step_on_a_gap_or_mismatch():
    from tickerhub_client import BookState, book_checksum
    bids, asks = [("188.2200", "1200"), ("188.2100", "3400")], [("188.2400", "3500")]
    assert book_checksum(bids, asks) == 1294233952  # docs/PROTOCOL.md's example
    book = BookState("AAPL", 10)
    snapshot = {"type": "book", "symbol": "AAPL", "depth": 10, "seq": 41, "bids": [list(b) for b in bids],
                "asks": [list(a) for a in asks], "checksum": 1294233952}
    assert book.apply(snapshot) and book.best_bid == ("188.2200", "1200")
    update = {"type": "bookUpdate", "symbol": "AAPL", "depth": 10, "seq": 42, "bids": [["188.2200", "0"], ["188.2300", "300"]],
              "asks": [], "checksum": 3130502982}
    assert book.apply(update) and book.bids == [("188.2300", "300"), ("188.2100", "3400")] and book.verified == 2
    assert not book.apply(dict(update, seq=44)) and book.gaps == 1, "a seq jump"
    assert book.apply(snapshot), "a snapshot puts it right"
    assert not book.apply(dict(update, checksum=1)) and book.mismatches == 1


def test_bars_merge_live_and_backfill_by_start():
    from tickerhub_client import CandleSeries
    series = CandleSeries("AAPL", "1m")
    bar = {"start": 60, "open": "1.00", "high": "1.10", "low": "0.90", "close": "1.05", "volume": 10, "trades": 2, "closed": False}
    series.apply({"type": "candles", "symbol": "AAPL", "interval": "1m", "seq": 5, "bars": [bar]})
    series.apply(dict(bar, type="candle", seq=6, close="1.07", closed=True))
    series.merge_backfill({"seq": 5, "bars": [dict(bar, start=0, closed=True), bar]})
    assert [b["start"] for b in series.ordered()] == [0, 60]
    assert series.bars[60]["close"] == "1.07", "the newer live bar stays"
    assert series.apply(dict(bar, type="candle", seq=9, start=120)) == 2 and series.gaps == 2
