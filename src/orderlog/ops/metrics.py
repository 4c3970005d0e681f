"""Prometheus metrics (prometheus-client) and ``GET /metrics``.

One ``Metrics`` per app, its collectors on its own registry (so tests may build many apps).
Several processes (``--workers N``) use prometheus-client's multiprocess mode: ``orderlog serve``
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, each worker
writes its values there, and whichever worker answers ``/metrics`` sums them all, so a scrape
through the shared port sees the whole server. One process alone keeps its values in memory.
Separate hosts are separate scrape targets.

Hot paths stay cheap: one counter and one histogram call per HTTP request, one histogram call
per live event per process (not per socket), gauge moves per connection.

``/metrics`` answers only a ``Bearer`` token equal to ``ORDERLOG_METRICS_TOKEN`` when that is
set, else only clients on loopback (a reverse proxy in front makes every client look remote:
set the token there): http/metrics.py serves them.
"""

from __future__ import annotations

import contextlib
import os
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
INGEST_ROUTES = frozenset({"create_order", "change_status", "batch"})
# Write latency is mostly one Redis round trip (~0.2-2 ms); live delivery adds the pub/sub hop.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The collectors. Label values are bounded: route names, status codes, transports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._ingest: dict[str, Histogram] = {}
        self._delivered: dict[str, Counter] = {}  # by webhook id, bounded as the labels are
        self._lag: dict[str, Gauge] = {}
        r = self.registry
        self.requests = Counter(
            "orderlog_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "orderlog_ingest_duration_seconds",
            "Time to answer a write (create, status change, batch), by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events_published = Counter(
            "orderlog_events_published",
            "Events written to the workspace streams (and published) by this server",
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "orderlog_live_delivery_seconds",
            "From the write in Redis (the event id's time) to handing the event to the sockets",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.clients = Gauge(
            "orderlog_live_clients",
            "Connected live clients by transport",
            ["transport"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.slow_consumer_closes = Counter(
            "orderlog_slow_consumer_closes",
            "Live clients closed because they could not keep up",
            registry=r,
        )
        self.resumes = Counter(
            "orderlog_resumes",
            "Live clients resuming from a cursor, by outcome (replayed or reset)",
            ["outcome"],
            registry=r,
        )
        self.redis_errors = Counter(
            "orderlog_redis_errors",
            "Redis unavailable or timing out, by where it was seen (request or pubsub)",
            ["where"],
            registry=r,
        )
        self.pairings = Counter(
            "orderlog_screen_pairings",
            "Screen pairing steps by outcome: started, approved, paired (token taken), "
            "unknown_code (a wrong or stale code typed: guesses show here), and *_limited",
            ["outcome"],
            registry=r,
        )
        self.redis_reconnects = Counter(
            "orderlog_redis_reconnects",
            "Pub/sub listener reconnections to Redis",
            registry=r,
        )
        # Webhooks (outbound/): labelled by webhook id, a bounded set (at most 20 per workspace).
        self.webhook_deliveries = Counter(
            "orderlog_webhook_deliveries",
            "Events delivered to a webhook (answered 2xx), by webhook",
            ["webhook"],
            registry=r,
        )
        self.webhook_failures = Counter(
            "orderlog_webhook_failures",
            "Failed delivery attempts (no 2xx: error, timeout, refused), by webhook",
            ["webhook"],
            registry=r,
        )
        self.webhook_retries = Counter(
            "orderlog_webhook_retries",
            "Delivery attempts that were retries of a failed one, by webhook",
            ["webhook"],
            registry=r,
        )
        self.webhook_dead_letters = Counter(
            "orderlog_webhook_dead_letters",
            "Events given up after retrying for ORDERLOG_WEBHOOK_RETRY_FOR, by webhook",
            ["webhook"],
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "orderlog_webhook_request_duration_seconds",
            "Time a receiver took to answer a successful delivery",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.webhook_lag_seconds = Gauge(
            "orderlog_webhook_lag_seconds",
            "Age of the oldest event not yet delivered to a webhook (0: caught up), as seen "
            "by the process delivering it",
            ["webhook"],
            multiprocess_mode="livemostrecent",
            registry=r,
        )

    # -- recording ---------------------------------------------------------------------------
    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        # labels() takes a lock and converts its values each call: keep the children it made
        # (bounded as the label values are).
        key = (method, route, status)
        counted = self._requests.get(key)
        if counted is None:
            counted = self._requests[key] = self.requests.labels(method, route, str(status))
        counted.inc()
        if route in INGEST_ROUTES and status < 500:
            timed = self._ingest.get(route)
            if timed is None:
                timed = self._ingest[route] = self.ingest_seconds.labels(route)
            timed.observe(seconds)

    def delivered(self, ms: int, now: float | None = None) -> None:
        """One event handed to this process's subscriptions; ``ms`` is its stream id's time
        part, Redis's clock at the write."""
        self.delivery_seconds.observe(max(0.0, (now or time.time()) - ms / 1000))

    def resumed(self, outcome: str) -> None:
        """A client with a cursor was ``replayed`` from it, or needed a ``reset``."""
        self.resumes.labels(outcome).inc()

    # -- webhooks (outbound/engine.py's Observer) ----------------------------------------------
    def webhook_delivered(self, webhook_id: str, events: int, seconds: float) -> None:
        # Once per delivery: keep the labelled child (as request() does).
        counted = self._delivered.get(webhook_id)
        if counted is None:
            counted = self._delivered[webhook_id] = self.webhook_deliveries.labels(webhook_id)
        counted.inc(events)
        self.webhook_seconds.observe(seconds)

    def webhook_failed(self, webhook_id: str) -> None:
        self.webhook_failures.labels(webhook_id).inc()

    def webhook_retried(self, webhook_id: str) -> None:
        self.webhook_retries.labels(webhook_id).inc()

    def webhook_dead(self, webhook_id: str) -> None:
        self.webhook_dead_letters.labels(webhook_id).inc()

    def webhook_lag(self, webhook_id: str, seconds: float | None) -> None:
        """The lag seen now; None: this process no longer delivers the webhook."""
        if seconds is None:
            self._lag.pop(webhook_id, None)
            with contextlib.suppress(KeyError):
                self.webhook_lag_seconds.remove(webhook_id)
            return
        gauge = self._lag.get(webhook_id)
        if gauge is None:
            gauge = self._lag[webhook_id] = self.webhook_lag_seconds.labels(webhook_id)
        gauge.set(seconds)

    # -- exposition --------------------------------------------------------------------------
    def render(self) -> bytes:
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def mark_process_dead() -> None:
    """At a worker's exit: drop its live gauges from the shared directory."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
