"""Per-symbol state as a client sees it: the latest values, the seq, and the updates it missed."""
from dataclasses import dataclass, field

UPDATE_TYPES = ("quote", "trade")


@dataclass
class SymbolState:
    """One symbol: its latest quote and trade fields, the seq of the newest update applied, and the
    updates this client never saw (`gaps`, from seq jumps), over every connection it had."""
    symbol: str
    seq: int = 0
    epoch: str | None = None
    fields: dict = field(default_factory=dict)
    gaps: int = 0
    duplicates: int = 0

    def apply(self, message: dict) -> int:
        """Folds a `snapshot`, `conflated`, `quote` or `trade` message in; returns the updates missed
        just before it (0 when none). A message at or below the seq held is a duplicate and ignored."""
        seq = message["seq"]
        kind = message["type"]
        if kind == "snapshot" and message.get("epoch") not in (None, self.epoch):
            # Another numbering (a hub restart): the old seq says nothing; re-base without a gap.
            self.epoch = message["epoch"]
            self.seq = seq
            self.fields = _state_fields(message)
            return 0
        if self.seq and seq <= self.seq:
            if kind in UPDATE_TYPES:
                self.duplicates += 1
            return 0
        missed = seq - self.seq - 1 if self.seq else 0
        self.gaps += max(0, missed)
        self.seq = seq
        if kind in ("snapshot", "conflated"):
            self.fields = _state_fields(message)
        elif kind == "quote":
            self.fields.update({k: message[k] for k in ("bid", "ask", "bidSize", "askSize")})
        elif kind == "trade":
            self.fields["last"] = message["price"]
            self.fields["lastSize"] = message["size"]
            self.fields.setdefault("open", message["price"])
        self.fields["ts"] = message["ts"]
        return max(0, missed)


def _state_fields(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in ("type", "symbol", "seq", "epoch")}
