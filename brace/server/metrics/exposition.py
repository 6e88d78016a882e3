"""One scrape (`scrape.Scrape`) as Prometheus text, through `prometheus_client`.

A custom collector over data already read: `prometheus_client` writes the text format,
so the names, escaping and histogram layout are the library's. Imported on the first
scrape only (the library takes ~45 ms to import). The metrics are listed in
docs/serving.md.

A deployment's series are written once and kept (`Exposition`) until what they say
changes (its labels, counters, requests in flight, replicas, recommendation): a home
with a thousand sleeping deployments is 25,000 series, and writing each one at every
scrape took ~200 ms of the server's CPU. A scrape then joins the kept text, family by
family, exactly as one registry holding everything would have written it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from brace.server.control.replicas import ReplicaState
from brace.server.gateway.counters import BOUNDS, CLIENT_CLOSED
from brace.server.metrics.scrape import LOCAL_NODE, Scrape
from brace.store import Deployment, PromotionStatus

LABELS = ("model_id", "model_name", "deployment_id", "environment")
"""Every per-deployment series carries these (Baseten's export's labels); `environment`
is empty for a deployment in none."""

PROMOTION_STATES = tuple(s for s in PromotionStatus if not s.finished)
LES = (*(repr(float(b)) for b in BOUNDS), "+Inf")
"""The buckets' `le` labels, written as Prometheus' own clients write them (0.005, 1.0)."""


def render(scrape: Scrape) -> bytes:
    """The scrape as Prometheus text (the server's kept deployments' series reused)."""
    return _EXPOSITION.render(scrape)


def render_whole(scrape: Scrape) -> bytes:
    """The scrape as Prometheus text, every series written anew."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(scrape))
    return generate_latest(registry)


class Exposition:
    """Renders scrapes, keeping each deployment's series text between them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[object, list[str]]] = {}
        """Deployment id -> (what its series said, their text by family)."""

    def render(self, scrape: Scrape) -> bytes:
        with self._lock:  # scrapes render in threads; one at a time uses what is kept
            return self._render(scrape)

    def _render(self, scrape: Scrape) -> bytes:
        heads = _family_heads(_families(scrape, []))
        parts: list[list[str]] = [[head] for head in heads]
        kept: dict[str, tuple[object, list[str]]] = {}
        for deployment in scrape.store.deployments:
            key = _said(scrape, deployment)
            found = self._kept.get(deployment.id)
            if found is None or found[0] != key:
                found = (key, _family_bodies(_families(scrape, [deployment])))
            kept[deployment.id] = found
            for part, body in zip(parts, found[1], strict=True):
                part.append(body)
        self._kept = kept
        promotions = CollectorRegistry(auto_describe=False)
        promotions.register(_Promotions(scrape))
        text = "".join(chunk for part in parts for chunk in part).encode()
        return text + generate_latest(promotions)


_EXPOSITION = Exposition()


def _said(scrape: Scrape, deployment: Deployment) -> object:
    """Everything a deployment's series say, to compare with the last scrape's."""
    view = scrape.store
    counts = scrape.counters.of(deployment.id)
    states = scrape.replicas.get(deployment.id, {})
    return (
        deployment.model_id,
        view.model_names.get(deployment.model_id, ""),
        view.environments.get(deployment.id, ""),
        tuple(sorted(counts.statuses.items())),
        counts.buckets,
        counts.seconds,
        scrape.in_flight.get(deployment.id, 0),
        tuple(sorted(states.items())),
        deployment.recommended_replicas,
    )


def _families(scrape: Scrape, deployments: list[Deployment]) -> list[Metric]:
    return list(ScrapeCollector(scrape).deployment_families(deployments))


def _split(families: list[Metric]) -> list[str]:
    """The text the library writes for each family (its HELP and TYPE lines first)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Given(families))
    text = generate_latest(registry).decode()
    # A family begins at a line "# HELP": a label value's newline is written escaped.
    first, *rest = text.split("\n# HELP ")
    chunks = [first, *("# HELP " + chunk for chunk in rest)]
    return [chunk + "\n" for chunk in chunks[:-1]] + chunks[-1:]


def _family_heads(families: list[Metric]) -> list[str]:
    return _split(families)


def _family_bodies(families: list[Metric]) -> list[str]:
    """Each family's sample lines, without its HELP and TYPE lines."""
    return [chunk.split("\n", 2)[2] for chunk in _split(families)]


class _Given:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class _Promotions:
    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        return ScrapeCollector(self.scrape).promotion_families()


class ScrapeCollector:
    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        yield from self.deployment_families(self.scrape.store.deployments)
        yield from self.promotion_families()

    def deployment_families(self, deployments: Iterable[Deployment]) -> Iterator[Metric]:
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
        for deployment in deployments:
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

    def promotion_families(self) -> Iterator[Metric]:
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
