"""Rate limits with the ``limits`` library: Redis when ``CONTACTGUARD_REDIS_URL`` is set
(shared by every process and host), each process's memory otherwise.

When Redis does not answer, a hit returns None: the request goes through (the coarse
per-key, per-address and per-account limits fail open), a warning is logged at most once a
minute, ``contactguard_rate_limit_store_errors_total`` counts it, and Redis is left alone for
``retry_seconds`` so that requests do not each wait for a connection timeout. Per-contact
cooldowns, attempt limits and the SMS-pumping guard live in the database and keep working.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from contactguard.domain.abuse import LimitVerdict, Quota

log = logging.getLogger("contactguard.limits")


class LimitsRateLimiter:
    """``ports.RateLimiter`` on a ``limits`` storage (moving windows)."""

    def __init__(self, redis_url: str = "", *, on_store_error: Callable[[], None] | None = None,
                 timeout: float = 0.25, retry_seconds: float = 5.0,
                 namespace: str = "contactguard") -> None:
        self.shared = bool(redis_url)
        if redis_url:
            self._storage: Storage = storage_from_string(  # type: ignore[assignment]
                redis_url, key_prefix=namespace, wrap_exceptions=True,
                socket_timeout=timeout, socket_connect_timeout=timeout)
        else:
            self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._on_error = on_store_error
        self._retry = retry_seconds
        self._down_until = 0.0
        self._warned_at = -3600.0
        self._lock = threading.Lock()

    def hit(self, quota: Quota, key: str) -> LimitVerdict | None:
        if self._down_until > time.monotonic():
            self._failed(None)
            return None
        item = RateLimitItemPerSecond(quota.limit, quota.window_seconds, namespace=quota.name)
        ident = _opaque(key)
        try:
            if self._limiter.hit(item, ident):  # one round trip when within the quota
                return LimitVerdict(allowed=True, remaining=-1, reset_seconds=0)
            stats = self._limiter.get_window_stats(item, ident)
        except Exception as exc:  # any store failure: fail open, never a 500
            with self._lock:
                self._down_until = time.monotonic() + self._retry
            self._failed(exc)
            return None
        reset = max(int(stats.reset_time - time.time() + 0.999), 0)
        return LimitVerdict(allowed=False, remaining=int(stats.remaining), reset_seconds=reset)

    def _failed(self, exc: Exception | None) -> None:
        if self._on_error is not None:
            self._on_error()
        now = time.monotonic()
        if exc is not None and now - self._warned_at >= 60:
            self._warned_at = now
            log.warning("rate-limit store unavailable (%s): coarse limits are not enforced "
                        "until it answers again; cooldowns and the pumping guard still hold",
                        type(exc).__name__)

    def reset(self) -> None:
        """Forget every count (tests)."""
        self._storage.reset()


def _opaque(key: str) -> str:
    """Keys name API keys, addresses, accounts and destinations: only a hash goes to Redis."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]
