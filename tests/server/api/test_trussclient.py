"""The paths Truss's own REST client calls: log search with every filter, the config,
the signed download, secrets; their answers against the OpenAPI document and their
refusals with status and error_code."""

from __future__ import annotations

import io
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from brace.server.api.downloads import Downloads
from brace.server.app import internal_app
from brace.server.storeworker import StoreWorker
from brace.services.push import push
from brace.services.snapshots import snapshot_path
from brace.store import Deployment, Store
from tests.conftest import MakeTruss
from tests.server.api.conftest import AUTH, KEY, conforms

# Three records of two replicas, one of them for request `req-a`, a print (no level),
# a traceback line (no stamp: the time of the record before it), and brace's own line.
LOG = """\
2026-01-02T03:04:05.000+00:00 [brace] status ACTIVE
2026-01-02T03:04:06.000+00:00 INFO [r-one] brace.runtime: Loaded in 0.1 s
2026-01-02T03:04:07.000+00:00 DEBUG [r-two] model.model: cache warm
hello from predict
2026-01-02T03:04:08.000+00:00 WARNING [r-one] [request_id=req-a] model.model: slow input
2026-01-02T03:04:09.000+00:00 ERROR [r-two] [request_id=req-b] brace.runtime: predict failed
ValueError: bad input
"""
SECOND = 1000  # epoch milliseconds of 2026-01-02T03:04:0X are START + X * SECOND
START = 1767323040000


def _logs_path(store: Store, deployment: Deployment) -> str:
    return f"/v1/models/{deployment.model_id}/deployments/{deployment.id}/logs"


def _search(api: TestClient, path: str, body: object) -> list[str]:
    answer = api.post(path, json=body)
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "GetLogsResponseV1")
    return [record["message"] for record in answer.json()["logs"]]


@pytest.fixture
def logged(store: Store, production: Deployment) -> str:
    log = store.home / "logs" / f"{production.id}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(LOG)
    return _logs_path(store, production)


LINES = LOG.splitlines()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, LINES[::-1], id="everything-newest-first"),
        pytest.param(
            {"start_epoch_millis": START + 7 * SECOND, "end_epoch_millis": START + 8 * SECOND},
            [LINES[4], LINES[3], LINES[2]],
            id="time-range-both-ends-included",
        ),
        pytest.param({"min_level": "WARNING"}, [LINES[5], LINES[4]], id="min-level"),
        pytest.param({"min_level": "info"}, [LINES[5], LINES[4], LINES[1], LINES[0]], id="level"),
        pytest.param({"replica": "r-two"}, [LINES[5], LINES[2]], id="replica"),
        pytest.param({"request_id": "req-a"}, [LINES[4]], id="request-id"),
        pytest.param({"search_pattern": r"^hello|Value\w+:"}, [LINES[6], LINES[3]], id="regex"),
        pytest.param({"includes": ["r-one", "model"]}, [LINES[4]], id="includes-all-of"),
        pytest.param({"excludes": ["r-one", "r-two"]}, [LINES[6], LINES[3], LINES[0]], id="ex"),
    ],
)
def test_log_search_honours_each_filter(
    api: TestClient, logged: str, body: dict[str, object], expected: list[str]
) -> None:
    assert _search(api, logged, body) == expected


def test_log_records_read_as_truss_reads_them(api: TestClient, logged: str) -> None:
    records = api.post(logged, json={}).json()["logs"]
    newest, *_, oldest = records
    assert newest == {
        "timestamp": str((START + 9 * SECOND) * 10**6),  # the record's before it
        "message": "ValueError: bad input",
        "replica": None,
    }
    assert records[1]["replica"] == "r-two"
    assert int(oldest["timestamp"]) == (START + 5 * SECOND) * 10**6
    assert all(int(r["timestamp"]) > 0 for r in records)  # Truss int()s every one


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"min_level": "VERBOSE"}, "min_level", id="unknown-level"),
        pytest.param({"min_level": 3}, "min_level", id="level-not-a-string"),
        pytest.param({"search_pattern": "("}, "search_pattern", id="bad-regex"),
        pytest.param({"search_pattern": "a" * 1001}, "search_pattern", id="long-regex"),
        # exponential in Python's engine, holding the GIL: refused before any line is read
        pytest.param({"search_pattern": "(a+)+$"}, "search_pattern", id="nested-repeat"),
        pytest.param({"search_pattern": r"(\w+\s?)*x"}, "search_pattern", id="nested-star"),
        pytest.param({"search_pattern": r"(a)\1"}, "search_pattern", id="backreference"),
        pytest.param({"includes": "text"}, "includes", id="includes-not-a-list"),
        pytest.param({"excludes": [1]}, "excludes", id="excludes-not-strings"),
        pytest.param({"start_epoch_millis": "now"}, "start_epoch_millis", id="start-text"),
        pytest.param({"start_epoch_millis": 1.5}, "start_epoch_millis", id="start-float"),
        pytest.param({"end_epoch_millis": True}, "end_epoch_millis", id="end-bool"),
        pytest.param({"end_epoch_millis": -1}, "end_epoch_millis", id="end-negative"),
        pytest.param({"end_epoch_millis": 10**4000}, "end_epoch_millis", id="end-huge"),
        pytest.param(
            {"start_epoch_millis": 2, "end_epoch_millis": 1}, "start_epoch_millis", id="reversed"
        ),
        pytest.param({"limit": 5}, "limit", id="unknown-field"),
    ],
)
def test_bad_log_filters_are_refused(
    api: TestClient, logged: str, body: dict[str, object], field: str
) -> None:
    answer = api.post(logged, json=body)
    assert answer.status_code == 400, answer.text
    conforms(answer.json(), "Error")
    assert answer.json()["error_code"] == "INVALID_BODY"
    assert answer.json()["details"] == {"field": field}


def test_a_nested_repetition_is_refused_in_so_many_words(api: TestClient, logged: str) -> None:
    answer = api.post(logged, json={"search_pattern": "(a+)+$"})
    assert answer.json()["error"] == (
        "search_pattern repeats a repetition (like (a+)+); simplify it"
    )
    # alternatives and single repetitions are fine
    assert _search(api, logged, {"search_pattern": r"(?:r-one|r-two)\] \[request_id=\w+-a"}) == [
        LINES[4]
    ]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/v1/models/nope/deployments/x/logs", "MODEL_NOT_FOUND", id="model"),
        pytest.param(None, "DEPLOYMENT_NOT_FOUND", id="deployment"),
    ],
)
def test_unknown_ids_are_404(
    api: TestClient, production: Deployment, path: str | None, code: str
) -> None:
    base = path or f"/v1/models/{production.model_id}/deployments/nope/logs"
    stem = base.removesuffix("/logs")
    for method, url in (("POST", base), ("GET", stem + "/config"), ("GET", stem + "/download")):
        answer = api.request(method, url, json={} if method == "POST" else None)
        assert answer.status_code == 404, (url, answer.text)
        assert answer.json()["error_code"] == code
        conforms(answer.json(), "Error")


# config and download


def test_config_is_the_snapshots(api: TestClient, store: Store, production: Deployment) -> None:
    snapshot = snapshot_path(store.home, production.snapshot or "")
    answer = api.get(f"/v1/models/{production.model_id}/deployments/{production.id}/config")
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "DeploymentConfigV1")
    assert answer.json()["raw_config"] == (snapshot / "config.yaml").read_text()
    assert answer.json()["config"] == {"model_name": "hello"}


def _download(api: TestClient, deployment: Deployment) -> str:
    answer = api.get(f"/v1/models/{deployment.model_id}/deployments/{deployment.id}/download")
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "DownloadUrlV1")
    url = urlsplit(answer.json()["download_url"])
    return f"{url.path}?{url.query}"


def _unpack(data: bytes, into: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
        tar.extractall(into, filter="data")
    return into


def test_the_download_link_serves_a_truss_that_push_accepts(
    api: TestClient, store: Store, production: Deployment, tmp_path: Path
) -> None:
    link = _download(api, production)
    answer = api.get(link, headers={"Authorization": ""})  # the signature is enough
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/gzip"
    unpacked = _unpack(answer.content, tmp_path / "downloaded")
    snapshot = snapshot_path(store.home, production.snapshot or "")
    assert sorted(p.name for p in unpacked.rglob("*")) == sorted(
        p.name for p in snapshot.rglob("*") if p.name != "brace-snapshot.json"
    )
    republished = push(store, unpacked, model_name="hello", publish=True).deployment
    assert republished.snapshot == production.snapshot  # the same files, byte for byte


def test_a_download_link_needs_its_signature_or_the_key(
    api: TestClient, production: Deployment
) -> None:
    link = _download(api, production)
    path, query = link.split("?")
    changed = "1" if query.endswith("0") else "0"  # a different last digit, always
    tampered = api.get(f"{path}?{query[:-1]}{changed}", headers={"Authorization": ""})
    other = api.get(
        path.replace(production.id, "another") + "?" + query, headers={"Authorization": ""}
    )
    bare = api.get(path, headers={"Authorization": ""})
    for answer in (tampered, other, bare):
        assert answer.status_code == 401
        assert answer.json()["error_code"] == "DOWNLOAD_LINK_INVALID"
    assert api.get(path).status_code == 200  # with the key


@pytest.fixture
def clocked(home: Path, store: Store) -> Iterator[tuple[TestClient, list[float]]]:
    now = [1_000_000.0]
    worker = StoreWorker(home)
    downloads = Downloads(ttl=60, clock=lambda: now[0])
    try:
        app = internal_app("test-server", KEY, worker, downloads=downloads)
        with TestClient(app, headers=AUTH) as client:
            yield client, now
    finally:
        worker.close()


def test_an_expired_download_link_is_refused(
    clocked: tuple[TestClient, list[float]], production: Deployment
) -> None:
    api, now = clocked
    link = _download(api, production)
    now[0] += 60
    assert api.get(link, headers={"Authorization": ""}).status_code == 200
    now[0] += 1
    answer = api.get(link, headers={"Authorization": ""})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "DOWNLOAD_LINK_EXPIRED"
    conforms(answer.json(), "Error")


def test_development_serves_its_live_directory(
    api: TestClient, store: Store, make_truss: MakeTruss, tmp_path: Path
) -> None:
    directory = make_truss("live", files={"data/weights.txt": "w"})
    development = push(store, directory).deployment
    base = f"/v1/models/{development.model_id}/deployments/development"
    (directory / "config.yaml").write_text("model_name: live\n# edited\n")
    assert api.get(base + "/config").json()["raw_config"] == "model_name: live\n# edited\n"
    url = urlsplit(api.get(base + "/download").json()["download_url"])
    unpacked = _unpack(api.get(f"{url.path}?{url.query}").content, tmp_path / "dev")
    assert (unpacked / "data" / "weights.txt").read_text() == "w"
    assert (unpacked / "config.yaml").read_text() == "model_name: live\n# edited\n"


def test_external_packages_are_gathered_into_packages(
    api: TestClient, store: Store, make_truss: MakeTruss, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    (shared / "helpers").mkdir(parents=True)
    (shared / "helpers" / "__init__.py").write_text("X = 1\n")
    directory = make_truss("ext", config=f"model_name: ext\nexternal_package_dirs: [{shared}]\n")
    published = push(store, directory, publish=True).deployment
    url = urlsplit(
        api.get(f"/v1/models/{published.model_id}/deployments/{published.id}/download").json()[
            "download_url"
        ]
    )
    unpacked = _unpack(api.get(f"{url.path}?{url.query}").content, tmp_path / "ext")
    assert (unpacked / "packages" / "helpers" / "__init__.py").read_text() == "X = 1\n"
    assert "external_package_dirs" not in (unpacked / "config.yaml").read_text()
    assert not (unpacked / "__external__").exists()
    push(store, unpacked, model_name="ext", publish=True)  # a Truss brace accepts


# secrets


def test_secrets_are_saved_listed_and_never_shown(api: TestClient, home: Path) -> None:
    saved = api.post("/v1/secrets", json={"name": "hf_token", "value": "s3cr3t-value"})
    assert saved.status_code == 200, saved.text
    conforms(saved.json(), "SecretV1")
    assert saved.json()["name"] == "hf_token"
    replaced = api.post("/v1/secrets", json={"name": "hf_token", "value": "second-value"})
    assert replaced.status_code == 200
    listed = api.get("/v1/secrets")
    conforms(listed.json(), "SecretsV1")
    assert [s["name"] for s in listed.json()["secrets"]] == ["hf_token"]
    path = home / "secrets" / "hf_token"
    assert path.read_text() == "second-value"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for answer in (saved, replaced, listed):
        assert "value" not in answer.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"name": "../escape", "value": "v"}, 400, "INVALID_SECRET_NAME", id="path"),
        pytest.param({"name": "..", "value": "v"}, 400, "INVALID_SECRET_NAME", id="dotdot"),
        pytest.param({"name": "", "value": "v"}, 400, "INVALID_SECRET_NAME", id="empty-name"),
        pytest.param({"name": "a b", "value": "v"}, 400, "INVALID_SECRET_NAME", id="space"),
        pytest.param({"name": "n" * 256, "value": "v"}, 400, "INVALID_SECRET_NAME", id="long"),
        pytest.param({"name": "ok", "value": ""}, 400, "INVALID_SECRET_VALUE", id="empty"),
        pytest.param(
            {"name": "ok", "value": "x" * (1024 * 1024 + 1)}, 400, "INVALID_BODY", id="too-big"
        ),
        pytest.param({"name": "ok"}, 400, "INVALID_BODY", id="no-value"),
        pytest.param({"name": "ok", "value": 5}, 400, "INVALID_BODY", id="value-not-text"),
        pytest.param({"name": "ok", "value": "v", "x": 1}, 400, "INVALID_BODY", id="extra"),
    ],
)
def test_bad_secrets_are_refused(
    api: TestClient, home: Path, body: dict[str, object], status: int, code: str
) -> None:
    answer = api.post("/v1/secrets", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code
    conforms(answer.json(), "Error")
    assert not (home / "secrets").exists() or not any((home / "secrets").iterdir())
