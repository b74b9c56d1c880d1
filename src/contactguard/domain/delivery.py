"""When to try a failed delivery again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, for a bounded number of attempts."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Delay before attempt ``attempt + 1`` after ``attempt`` failures (1-based)."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** (attempt - 1))
        jitter = (rng or random).uniform(0.5, 1.0)
        return timedelta(seconds=ceiling * jitter)

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
