"""Prometheus metrics of the operator, served on settings.metrics_port."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

ENS_CALLS = Counter(
    "ens_operator_ens_calls_total",
    "Outbound ENS API calls (each attempt), by action and result code (OK on success).",
    ["action", "code"],
    registry=REGISTRY,
)
ENS_LATENCY = Histogram(
    "ens_operator_ens_call_duration_seconds",
    "Latency of outbound ENS API calls (each attempt), by action.",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
RESOURCES = Gauge(
    "ens_operator_resources",
    "Custom resources the operator watches, by kind and Ready condition status.",
    ["kind", "ready"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "ens_operator_reconcile_errors_total",
    "Reconcile passes that ended in an error or a stall, by kind and reason.",
    ["kind", "reason"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "ens_operator_reconcile_duration_seconds",
    "Duration of one reconcile pass (decision, ENS calls and status write), by kind; its count is the "
    "number of passes.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
KUBE_WRITES = Counter(
    "ens_operator_kube_writes_total",
    "Writes the operator's own passes sent to the Kubernetes API, by what was written (status, event).",
    ["what"],
    registry=REGISTRY,
)
ENS_RATE_LIMIT = Gauge(
    "ens_operator_ens_rate_limit",
    "Current client-side rate limit of an ENS action (calls/s), per credentials scope (operator or "
    "secret-<n>, in the order first used); below the configured rate after ENS throttled the action.",
    ["action", "scope"],
    registry=REGISTRY,
)
ACTIVE = Gauge(
    "ens_operator_active",
    "1 while this replica may call ENS and write status (peering: the active replica), else 0.",
    registry=REGISTRY,
)


def record_call(action: str, code: str, seconds: float) -> None:
    """The EnsClient ``on_call`` hook: one attempt of one action."""
    ENS_CALLS.labels(action=action, code=code).inc()
    ENS_LATENCY.labels(action=action).observe(seconds)


def record_rate(scope: str, action: str, rate: float) -> None:
    """The RateLimiter ``on_rate`` hook: ``action`` now runs at ``rate`` calls/s in ``scope``."""
    ENS_RATE_LIMIT.labels(action=action, scope=scope).set(rate)


def record_error(kind: str, reason: str) -> None:
    """A reconcile pass of ``kind`` failed or stalled with ``reason``."""
    RECONCILE_ERRORS.labels(kind=kind, reason=reason).inc()


def set_resources(kind: str, ready_values: Iterable[str]) -> None:
    """Replace the resource counts of ``kind`` from the Ready statuses of its objects."""
    counts = {"True": 0, "False": 0, "Unknown": 0}
    for value in ready_values:
        counts[value if value in counts else "Unknown"] += 1
    for ready, count in counts.items():
        RESOURCES.labels(kind=kind, ready=ready).set(count)


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
    """Serve /metrics in a background thread (port 0: not at all)."""
    if port:
        start_http_server(port, addr=host, registry=REGISTRY)
