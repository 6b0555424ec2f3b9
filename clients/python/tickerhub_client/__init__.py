"""TickerHub client (protocol tickerhub.v1): reconnects with jittered backoff, recovers missed
updates with `since`, re-bases from snapshots after a hub restart, and counts every gap.

    async with TickerHubClient("ws://127.0.0.1:8080/ws") as hub:
        await hub.subscribe(["AAPL", "MSFT"])
        async for update in hub:
            print(update.symbol, update.seq, update.state.fields)
"""
from .backoff import Backoff
from .books import BookState, CandleSeries, book_checksum
from .client import (CLOSE_CODES, FATAL_CLOSE_CODES, SLOW_CONSUMER, TOKEN_EXPIRED, ConnectionLost, HubUnavailable, TickerHubClient,
                     TickerHubClosed, TickerHubError, Update)
from .state import SymbolState

__all__ = ["Backoff", "BookState", "CandleSeries", "book_checksum", "CLOSE_CODES", "ConnectionLost", "FATAL_CLOSE_CODES", "HubUnavailable", "SLOW_CONSUMER", "SymbolState", "TOKEN_EXPIRED",
           "TickerHubClient", "TickerHubClosed", "TickerHubError", "Update"]
