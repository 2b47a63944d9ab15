"""Prometheus metrics of the worker and the Tiny adapter (one registry per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from kanglu.application.scheduling import JobResult


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.orders_imported = Counter("kanglu_orders_imported", "Orders created or changed by imports", registry=r)
        self.orders_failed = Counter("kanglu_orders_failed", "ERP orders refused by the import", registry=r)
        self.polls = Counter("kanglu_polls", "Connection polls by outcome", ["outcome"], registry=r)
        self.renewals = Counter("kanglu_token_renewals", "Token renewals by outcome", ["outcome"], registry=r)
        self.deliveries = Counter("kanglu_tracking_deliveries", "Tracking requests delivered", registry=r)
        self.jobs = Counter("kanglu_jobs", "Jobs run by kind and outcome", ["kind", "outcome"], registry=r)
        self.job_lag = Histogram(
            "kanglu_job_lag_seconds", "Delay between a job's due time and its start", ["kind"], registry=r,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
        )
        self.lease_losses = Counter("kanglu_lease_losses", "Jobs whose lease was lost before finishing", registry=r)
        self.api_calls = Counter(
            "kanglu_erp_api_calls", "ERP API calls by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.api_seconds = Histogram("kanglu_erp_api_seconds", "ERP API call duration", ["endpoint"], registry=r)
        self.in_flight = Gauge("kanglu_jobs_in_flight", "Jobs running now", registry=r)

    def record(self, result: JobResult) -> None:
        self.jobs.labels(result.kind.value, result.outcome).inc()
        if result.kind.value == "poll":
            self.polls.labels(result.outcome).inc()
            self.orders_imported.inc(result.imported)
            self.orders_failed.inc(result.failed_orders)
        elif result.kind.value == "renew_token":
            self.renewals.labels(result.outcome).inc()
        else:
            self.deliveries.inc(result.delivered)

    def on_api_call(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.api_calls.labels(endpoint, str(status)).inc()
        self.api_seconds.labels(endpoint).observe(seconds)
