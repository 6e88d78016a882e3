"""`GET /metrics`' text: the deployments' series kept between scrapes read exactly as
the whole scrape written anew, through every kind of change between two scrapes."""

from __future__ import annotations

from dataclasses import replace

from brace.server.gateway.counters import RequestCounters
from brace.server.metrics.exposition import Exposition, render_whole
from brace.server.metrics.scrape import Scrape, StoreView
from brace.store import AutoscalingSettings, Deployment, DeploymentStatus


def deployment(number: int) -> Deployment:
    return Deployment(
        id=f"d{number}",
        model_id=f"m{number}",
        name="v1",
        is_development=False,
        status=DeploymentStatus.SCALED_TO_ZERO,
        autoscaling=AutoscalingSettings(),
        created_at="2026-01-01T00:00:00Z",
    )


def test_kept_series_read_as_the_whole_scrape_written_anew() -> None:
    deployments = [deployment(n) for n in range(4)]
    counters = RequestCounters()
    names = {d.model_id: f'model "{d.id}"\n\\' for d in deployments}  # escaped label values
    view = StoreView(deployments, names, {"d0": "production"}, [])
    exposition = Exposition()

    def same(scrape: Scrape) -> None:
        assert exposition.render(scrape) == render_whole(scrape)

    same(Scrape(view, counters.snapshot()))
    same(Scrape(view, counters.snapshot()))  # nothing changed: all kept
    counters.record("d1", 200, 0.02)
    counters.record("d1", 503, 3.0)
    same(Scrape(view, counters.snapshot()))  # one deployment's counters
    same(
        Scrape(
            view,
            counters.snapshot(),
            {"d2": 3},
            {"d2": {("READY", "local"): 1, ("READY", "10.0.0.2"): 2}},
        )
    )
    moved = replace(view, environments={"d3": "staging"}, model_names={**names, "m0": "renamed"})
    same(Scrape(moved, counters.snapshot()))
    recommended = [replace(d, recommended_replicas=2) if d.id == "d0" else d for d in deployments]
    same(Scrape(replace(view, deployments=recommended[1:]), counters.snapshot()))  # one gone
    same(Scrape(replace(view, deployments=[deployment(9), *recommended]), counters.snapshot()))
    same(Scrape(replace(view, deployments=[]), counters.snapshot()))
