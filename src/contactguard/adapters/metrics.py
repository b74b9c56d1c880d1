"""Prometheus metrics, on a registry of the container's own (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "DeliveryMetricsCollector", "ProtectionMetrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_COUNTERS = {"sent": "sent", "failed": "failed", "retried": "retried", "expired": "expired",
             "resent": "resent", "crashed": "crashed"}


class DeliveryMetricsCollector:
    """``contactguard_messages_{sent,failed,retried,expired}_total``, the latency histogram,
    ``contactguard_messages_resent_total`` (sent again after an unconfirmed hand-over: possible
    duplicates) and ``contactguard_messages_crashed_total`` (a sender raised an unexpected
    error)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("channel", "provider")
        self._counters = {
            name: Counter(f"contactguard_messages_{name}", f"Messages {name}", labels,
                          registry=self.registry)
            for name in ("sent", "failed", "retried", "expired", "resent", "crashed")}
        self._latency = Histogram("contactguard_delivery_latency_seconds",
                                  "From queueing to acceptance by the transport", ("channel",),
                                  buckets=_LATENCY_BUCKETS, registry=self.registry)
        self._inbound = Counter("contactguard_inbound_messages", "Inbound mail by kind",
                                ("kind",), registry=self.registry)

    def record_inbound(self, kind: str) -> None:
        """``contactguard_inbound_messages_total{kind}``: reports, bounces, replies (and how
        many were answered or marked a contact), dropped mail."""
        self._inbound.labels(kind).inc()

    def record(self, *, channel: str, provider: str, outcome: str,
               latency_seconds: float | None = None) -> None:
        counter = _COUNTERS.get(outcome)
        if counter is not None:
            self._counters[counter].labels(channel, provider).inc()
        if latency_seconds is not None:
            self._latency.labels(channel).observe(max(latency_seconds, 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ProtectionMetrics:
    """Shared limits and abuse protection (issue 11), on the collector's registry:

    * ``contactguard_rate_limited_total{limit}``: requests and sends refused by a limit;
    * ``contactguard_rate_limit_store_errors_total``: hits not counted because Redis did not
      answer (the limits then fail open);
    * ``contactguard_destinations_refused_total{reason}``: codes the SMS-pumping guard refused;
    * ``contactguard_fraud_prefix_blocked_total{reason}``: prefixes it blocked.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._limited = Counter("contactguard_rate_limited", "Refused by a rate limit",
                                ("limit",), registry=registry)
        self._store_errors = Counter("contactguard_rate_limit_store_errors",
                                     "Rate-limit hits not counted (store unavailable)",
                                     registry=registry)
        self._refused = Counter("contactguard_destinations_refused",
                                "Codes refused by the SMS-pumping guard", ("reason",),
                                registry=registry)
        self._blocked = Counter("contactguard_fraud_prefix_blocked",
                                "Number prefixes blocked by the SMS-pumping guard", ("reason",),
                                registry=registry)

    def event(self, name: str, label: str = "") -> None:
        """Count one event: ``rate_limited``/limit, ``store_error``, ``refused``/reason,
        ``prefix_blocked``/reason."""
        if name == "rate_limited":
            self._limited.labels(label).inc()
        elif name == "store_error":
            self._store_errors.inc()
        elif name == "refused":
            self._refused.labels(label).inc()
        elif name == "prefix_blocked":
            self._blocked.labels(label).inc()
