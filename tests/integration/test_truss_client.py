"""Baseten's REST API as Truss's own client calls it, against a real `brace server`.

`TrussRestClient` makes exactly the requests of truss 0.18.36's
`truss.remote.baseten.api.BasetenApi` over its `RestAPIClient` (requests, the
`Authorization` header, `raise_for_status`, `.json()`), and reads the answers as that
code does: `get_model_deployment_logs` builds its body from the non-empty arguments
only and returns `logs[::-1]`; `truss.cli.logs.utils.ParsedLog` needs `timestamp`,
`message` and `replica`, and `int(timestamp)` is epoch nanoseconds; `truss download`
fetches `download_url` with a plain GET and unpacks it with `tarfile.open(mode="r|*")`;
`truss model-config` prints `raw_config`. The package itself is not installed: it
requires `watchfiles<0.20` while brace requires `watchfiles>=0.21`, and it brings some
60 packages (boto3, google-cloud-storage, huggingface-hub, ...) that have nothing to do
with these requests.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import Any

import pytest
import requests

from brace.services.snapshots import snapshot_path
from tests.conftest import MakeTruss
from tests.integration.conftest import KEY, Server, wait_until

VALUE = "tok-7d1e5c0b9a-very-secret"
NEW_VALUE = "tok-2f8a6e4d13-rotated-secret"

MODEL = """\
import hashlib
import logging

log = logging.getLogger(__name__)


class Model:
    def __init__(self, secrets, **kwargs):
        self._secrets = secrets
        self._digest = None

    def load(self):
        # Read once, at start: a later save is seen after the next start.
        self._digest = hashlib.sha256(self._secrets["probe_token"].encode()).hexdigest()

    def predict(self, model_input):
        log.warning("predict marker=%s", model_input["marker"])
        log.info("predict done")
        return {"sha256": self._digest}
"""


class TrussRestClient:
    """BasetenApi's calls (truss 0.18.36, truss/remote/baseten/api.py), one method each,
    over RestAPIClient's requests (truss/remote/baseten/rest_client.py)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Api-Key {key}"}

    def _get(self, path: str) -> Any:
        resp = requests.get(f"{self.base_url}/{path}", headers=self.headers, timeout=(10, 60))
        resp.raise_for_status()
        return resp.json()

    def _post(self, path: str, body: Any) -> Any:
        resp = requests.post(
            f"{self.base_url}/{path}", headers=self.headers, json=body, timeout=(10, 60)
        )
        resp.raise_for_status()
        return resp.json()

    def get_deployment(self, model_id: str, deployment_id: str) -> Any:
        return self._get(f"v1/models/{model_id}/deployments/{deployment_id}")

    def upsert_secret(self, name: str, value: str) -> Any:
        return self._post("v1/secrets", body={"name": name, "value": value})

    def get_all_secrets(self) -> Any:
        return self._get("v1/secrets")

    def get_deployment_download_url(self, model_id: str, deployment_id: str) -> str:
        response = self._get(f"v1/models/{model_id}/deployments/{deployment_id}/download")
        return str(response["download_url"])

    def get_deployment_config(self, model_id: str, deployment_id: str) -> dict[str, Any]:
        return self._get(  # type: ignore[no-any-return]
            f"v1/models/{model_id}/deployments/{deployment_id}/config"
        )

    def get_model_deployment_logs(
        self,
        model_id: str,
        deployment_id: str,
        start_epoch_millis: int | None = None,
        end_epoch_millis: int | None = None,
        min_level: str | None = None,
        replica: str | None = None,
        request_id: str | None = None,
        search_pattern: str | None = None,
        includes: list[str] | None = None,
        excludes: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {}
        if start_epoch_millis:
            body["start_epoch_millis"] = start_epoch_millis
        if end_epoch_millis:
            body["end_epoch_millis"] = end_epoch_millis
        if min_level:
            body["min_level"] = min_level
        if replica:
            body["replica"] = replica
        if request_id:
            body["request_id"] = request_id
        if search_pattern:
            body["search_pattern"] = search_pattern
        if includes:
            body["includes"] = includes
        if excludes:
            body["excludes"] = excludes
        resp_json = self._post(f"v1/models/{model_id}/deployments/{deployment_id}/logs", body)
        return resp_json["logs"][::-1]  # type: ignore[no-any-return]


def _parsed(log: dict[str, Any]) -> tuple[int, str, str | None]:
    """What truss.cli.logs.utils.ParsedLog and format_log take from a record."""
    assert isinstance(log["timestamp"], str) and isinstance(log["message"], str)
    return int(log["timestamp"]), log["message"], log["replica"]


def _refusal(call: Any, status: int, code: str) -> None:
    with pytest.raises(requests.HTTPError) as raised:
        call()
    assert raised.value.response.status_code == status
    assert raised.value.response.json()["error_code"] == code


def test_truss_client_reads_logs_config_download_and_secrets(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> None:
    client = TrussRestClient(f"http://127.0.0.1:{server.port}", KEY)
    seen: list[Any] = []  # every answer, to look for the value in

    seen.append(client.upsert_secret("probe_token", VALUE))
    assert seen[-1]["name"] == "probe_token"
    seen.append(client.get_all_secrets())
    assert [s["name"] for s in seen[-1]["secrets"]] == ["probe_token"]

    directory = make_truss(
        "probe", config="model_name: probe\nsecrets:\n  probe_token: null\n", model=MODEL
    )
    pushed = server.json("push", directory, "--publish", "--promote", "--wait")
    model_id, deployment_id = pushed["model"]["id"], pushed["deployment"]["id"]
    seen.append(client.get_deployment(model_id, deployment_id))
    assert (seen[-1]["status"], seen[-1]["is_development"]) == ("ACTIVE", False)

    def predict(marker: str) -> tuple[str, dict[str, Any]]:
        answer = requests.post(
            f"http://127.0.0.1:{server.port}/model/{model_id}/production/predict",
            json={"marker": marker},
            headers=client.headers,
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        seen.append(answer.text)
        return answer.headers["x-baseten-request-id"], answer.json()

    first_id, first = predict("first")
    second_id, _ = predict("second")
    assert first == {"sha256": hashlib.sha256(VALUE.encode()).hexdigest()}

    # logs: the request id's records only, newest last as the client returns them
    def logs(**filters: Any) -> list[tuple[int, str, str | None]]:
        got = client.get_model_deployment_logs(model_id, deployment_id, **filters)
        seen.append(got)
        return [_parsed(log) for log in got]

    mine = wait_until(lambda: logs(request_id=first_id), 10, "the request's records")
    wait_until(lambda: len(logs(request_id=first_id)) == 2, 10, "both records")
    mine = logs(request_id=first_id)
    assert [m.split(": ", 1)[1] for _, m, _ in mine] == ["predict marker=first", "predict done"]
    assert all(f"[request_id={first_id}]" in m for _, m, _ in mine)
    replica = mine[0][2]
    assert replica is not None
    stamps = [t for t, _, _ in logs()]
    assert stamps == sorted(stamps) and all(t > 1_700_000_000 * 10**9 for t in stamps)
    warnings = [m for _, m, _ in logs(min_level="WARNING")]
    assert any("marker=first" in m for m in warnings)
    assert any("marker=second" in m for m in warnings)
    assert not any("predict done" in m for m in warnings)
    assert {r for _, _, r in logs(replica=replica)} == {replica}
    assert [m for _, m, _ in logs(search_pattern=r"marker=(first|nope)$")] == [mine[0][1]]
    assert [m for _, m, _ in logs(includes=["predict", "second"])] == [
        m for _, m, _ in logs(request_id=second_id) if "marker" in m
    ]
    assert not [m for _, m, _ in logs(excludes=["predict"]) if "predict" in m]
    at = mine[0][0] // 10**6
    assert [m for _, m, _ in logs(start_epoch_millis=at, end_epoch_millis=at)] == [
        m for t, m, _ in logs() if t // 10**6 == at
    ]

    # config: the published snapshot's config.yaml
    deployment = server.deployment(deployment_id)
    snapshot = snapshot_path(server.home, deployment.snapshot or "")
    config = client.get_deployment_config(model_id, deployment_id)
    seen.append(config)
    assert config["raw_config"] == (snapshot / "config.yaml").read_text()
    assert config["config"]["secrets"] == {"probe_token": None}

    # download: an archive that unpacks into a Truss `brace push` accepts
    url = client.get_deployment_download_url(model_id, deployment_id)
    with requests.get(url, stream=True, timeout=(10, None)) as response:  # no key: signed
        response.raise_for_status()
        response.raw.decode_content = True
        with tarfile.open(fileobj=response.raw, mode="r|*") as tar:
            tar.extractall(tmp_path / "downloaded", filter="data")
    assert (tmp_path / "downloaded" / "model" / "model.py").read_text() == MODEL
    again = server.json("push", tmp_path / "downloaded", "--model-name", "probe", "--publish")
    assert server.deployment(again["deployment"]["id"]).snapshot == deployment.snapshot
    tampered = url.replace("signature=", "signature=0")
    answer = requests.get(tampered, timeout=30)
    assert (answer.status_code, answer.json()["error_code"]) == (401, "DOWNLOAD_LINK_INVALID")

    # a saved secret is read at the replica's next start
    seen.append(client.upsert_secret("probe_token", NEW_VALUE))
    _, before = predict("before-restart")
    assert before == first
    for command in ("deactivate", "activate"):
        done = server.brace(command, deployment_id, "-m", "probe")
        assert done.returncode == 0, done.stderr
    server.wait_status(deployment_id, "ACTIVE")
    _, after = predict("after-restart")
    assert after == {"sha256": hashlib.sha256(NEW_VALUE.encode()).hexdigest()}

    # refusals answer as the other management paths do
    _refusal(lambda: client.get_deployment_config(model_id, "nope"), 404, "DEPLOYMENT_NOT_FOUND")
    _refusal(lambda: client.get_deployment_download_url("nope", "x"), 404, "MODEL_NOT_FOUND")
    _refusal(
        lambda: client.get_model_deployment_logs(model_id, deployment_id, min_level="LOUD"),
        400,
        "INVALID_BODY",
    )
    _refusal(lambda: client.upsert_secret("../up", "v"), 400, "INVALID_SECRET_NAME")

    # the value is in no answer, listing or log
    listing = server.brace("secrets", "list", "-o", "json").stdout
    written = [p.read_text(errors="replace") for p in (server.home / "logs").glob("*.log")]
    written += [p.read_text(errors="replace") for p in server.home.parent.glob("server-*.log")]
    for text in [*map(str, seen), listing, *written]:
        assert VALUE not in text and NEW_VALUE not in text
