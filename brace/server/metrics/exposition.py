"""One scrape (`scrape.Scrape`) as Prometheus text, through `prometheus_client`.

A custom collector over data already read: each scrape builds a registry holding one
`ScrapeCollector` and lets `prometheus_client` write the text format, so the names,
escaping and histogram layout are the library's. Imported on the first scrape only
(the library takes ~45 ms to import). The metrics are listed in docs/serving.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from brace.server.control.replicas import ReplicaState
from brace.server.gateway.counters import BOUNDS, CLIENT_CLOSED
from brace.server.metrics.scrape import LOCAL_NODE, Scrape
from brace.store import PromotionStatus

LABELS = ("model_id", "model_name", "deployment_id", "environment")
"""Every per-deployment series carries these (Baseten's export's labels); `environment`
is empty for a deployment in none."""

PROMOTION_STATES = tuple(s for s in PromotionStatus if not s.finished)
LES = (*(repr(float(b)) for b in BOUNDS), "+Inf")
"""The buckets' `le` labels, written as Prometheus' own clients write them (0.005, 1.0)."""


def render(scrape: Scrape) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(scrape))
    return generate_latest(registry)


class ScrapeCollector:
    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from self._deployments()
        yield from self._promotions()

    def _deployments(self) -> Iterator[Metric]:
        scrape = self.scrape
        view = scrape.store
        requests = CounterMetricFamily(
            "brace_inference_requests",
            "Requests routed to the deployment that finished, by response status "
            f"({CLIENT_CLOSED}: the client went away before the response).",
            labels=(*LABELS, "status_code"),
        )
        durations = HistogramMetricFamily(
            "brace_end_to_end_response_time_seconds",
            "Time from a request's head reaching the gateway to the end of its response, "
            "waiting for the deployment to start or wake included.",
            labels=LABELS,
        )
        in_flight = GaugeMetricFamily(
            "brace_inference_requests_in_flight",
            "Requests to the deployment not finished yet, held ones included.",
            labels=LABELS,
        )
        replicas = GaugeMetricFamily(
            "brace_replicas",
            "The server's replicas of the deployment, by state and node (`local`: the "
            "server's machine; else the Ray node's address).",
            labels=(*LABELS, "state", "node"),
        )
        recommended = GaugeMetricFamily(
            "brace_replicas_recommended",
            "Replicas the autoscaler recommends for the deployment.",
            labels=LABELS,
        )
        for deployment in view.deployments:
            labels = [
                deployment.model_id,
                view.model_names.get(deployment.model_id, ""),
                deployment.id,
                view.environments.get(deployment.id, ""),
            ]
            counts = scrape.counters.of(deployment.id)
            for status, n in sorted(counts.statuses.items()):
                requests.add_metric([*labels, str(status)], n)
            cumulative = 0
            buckets = []
            for le, n in zip(LES, counts.buckets, strict=True):
                cumulative += n
                buckets.append((le, float(cumulative)))
            durations.add_metric(labels, buckets, counts.seconds)
            in_flight.add_metric(labels, scrape.in_flight.get(deployment.id, 0))
            states = scrape.replicas.get(deployment.id, {})
            for node in sorted({LOCAL_NODE, *(node for _, node in states)}):
                for state in ReplicaState:
                    count = states.get((state.name, node), 0)
                    replicas.add_metric([*labels, state.name, node], count)
            recommended.add_metric(labels, deployment.recommended_replicas)
        return iter((requests, durations, in_flight, replicas, recommended))

    def _promotions(self) -> Iterator[Metric]:
        view = self.scrape.store
        labels = (*LABELS, "previous_deployment_id")
        traffic = GaugeMetricFamily(
            "brace_promotion_percent_traffic",
            "Share of the environment's traffic (percent) sent to the candidate "
            "(deployment_id) of an in-progress promotion; the rest goes to "
            "previous_deployment_id.",
            labels=labels,
        )
        status = GaugeMetricFamily(
            "brace_promotion_status",
            "1 for the status an in-progress promotion is in, 0 for the other ones.",
            labels=(*labels, "status"),
        )
        for promotion in view.promotions:
            values = [
                promotion.model_id,
                view.model_names.get(promotion.model_id, ""),
                promotion.candidate_id,
                promotion.environment,
                promotion.previous_id or "",
            ]
            traffic.add_metric(values, promotion.percent_traffic)
            for state in PROMOTION_STATES:
                status.add_metric([*values, state.value], float(state is promotion.status))
        return iter((traffic, status))
