"""How long to wait before the next reconnect: exponential, capped, with full jitter, so that
thousands of clients dropped at once by a hub restart do not all come back in the same instant."""
import random


class Backoff:
    def __init__(self, initial: float = 0.25, maximum: float = 10.0, rng: random.Random | None = None):
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """A delay drawn from [0, min(maximum, initial * 2^attempts)]; each call is one more attempt."""
        ceiling = min(self.maximum, self.initial * (2 ** self.attempts))
        self.attempts += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        """After a connection that worked: the next failure starts from `initial` again."""
        self.attempts = 0
