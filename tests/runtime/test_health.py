"""is_healthy(): after load, liveness and readiness follow what the model says."""

from __future__ import annotations

from tests.conftest import MakeTruss
from tests.runtime.conftest import Launcher

TOGGLE = """\
class Model:
    def __init__(self, **kwargs):
        self._healthy = True

    def is_healthy(self):
        if self._healthy == "raise":
            raise RuntimeError("health check broke")
        return self._healthy

    def predict(self, model_input):
        self._healthy = model_input
        return model_input
"""


def test_is_healthy_false_makes_probes_503(make_truss: MakeTruss, start_replica: Launcher) -> None:
    replica = start_replica(make_truss("toggle", model=TOGGLE))
    assert replica.request("GET", "/").status == 200
    assert replica.predict(False).status == 200
    live, ready = replica.request("GET", "/"), replica.readiness()
    assert (live.status, live.json()) == (503, {"error": "model is not healthy"})
    assert (ready.status, ready.json()) == (503, {"error": "model is not healthy"})
    assert "Health check failed: is_healthy() returned False" in replica.log()

    assert replica.predict("raise").status == 200
    assert replica.readiness().status == 503
    assert "RuntimeError: health check broke" in replica.log()

    assert replica.predict(True).status == 200
    assert replica.request("GET", "/").status == 200
    assert replica.readiness().status == 200
