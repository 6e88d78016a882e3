"""The predict path: the pre/post chain, errors, signatures, Responses, async methods."""

from __future__ import annotations

import re

import pytest

from tests.runtime.conftest import Launcher, Replica, write_truss

BEHAVIOURS = """\
from starlette.responses import Response

from helpers import fail


class Model:
    def preprocess(self, model_input):
        if model_input.get("do") == "raise-pre":
            fail("in preprocess")
        return model_input

    def predict(self, model_input):
        do = model_input.get("do")
        if do == "raise":
            fail("in predict")
        if do == "set":
            return {1, 2}
        if do == "response":
            return Response(b"raw body", status_code=201)
        if do == "stream":
            return (chunk for chunk in "ab")
        return model_input

    def postprocess(self, result):
        if isinstance(result, dict) and result.get("do") == "raise-post":
            fail("in postprocess")
        return {"post": result}
"""

HELPERS = """\
def fail(where):
    raise ValueError(f"model failed {where}")
"""

ASYNC_MODEL = """\
import asyncio


class Model:
    async def preprocess(self, model_input):
        return model_input * 2

    async def predict(self, model_input):
        await asyncio.sleep(0.01)
        return {"async": model_input}

    async def postprocess(self, result):
        return [result]
"""

REQUEST_ONLY = """\
from starlette.requests import Request


class Model:
    async def predict(self, request: Request):
        body = await request.body()
        return {"body": body.decode(), "header": request.headers.get("x-test"),
                "path_params": request.path_params, "app": type(request.app).__name__}
"""

INPUTS_AND_REQUEST = """\
from __future__ import annotations

from starlette.requests import Request


class Model:
    def predict(self, model_input, request: Request):
        return {"input": model_input, "path": request.url.path,
                "header": request.headers.get("x-test")}
"""


@pytest.fixture(scope="module")
def replicas(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Replica]:
    root = tmp_path_factory.mktemp("predict")
    trusses = {
        "behaviours": write_truss(
            root / "behaviours", "model_name: b\n", BEHAVIOURS, {"packages/helpers.py": HELPERS}
        ),
        "async": write_truss(root / "async", "model_name: a\n", ASYNC_MODEL),
        "request_only": write_truss(root / "request-only", "model_name: r\n", REQUEST_ONLY),
        "inputs_and_request": write_truss(root / "both", "model_name: i\n", INPUTS_AND_REQUEST),
    }
    started = {name: module_replicas(path, wait=False) for name, path in trusses.items()}
    return {name: replica.wait_ready() for name, replica in started.items()}


MODEL_ERROR = {"error": "Internal Server Error (in model/chainlet)."}


def test_pre_predict_post_chain(replicas: dict[str, Replica]) -> None:
    reply = replicas["behaviours"].predict({"do": "echo"})
    assert (reply.status, reply.json()) == (200, {"post": {"do": "echo"}})


@pytest.mark.parametrize(
    ("do", "where"),
    [
        pytest.param("raise-pre", "in preprocess", id="preprocess"),
        pytest.param("raise", "in predict", id="predict"),
        pytest.param("raise-post", "in postprocess", id="postprocess"),
    ],
)
def test_model_exception_is_500_and_logged_with_user_frames(
    replicas: dict[str, Replica], do: str, where: str
) -> None:
    replica = replicas["behaviours"]
    reply = replica.predict({"do": do})
    assert (reply.status, reply.json()) == (500, MODEL_ERROR)
    log = replica.log()
    entry = log[log.rindex("Exception in model:") :]
    model_frame = r'File ".*/behaviours/model/model\.py", line \d+, in (pre|post)?(process|predict)'
    assert re.search(model_frame, entry)
    assert re.search(r'File ".*/behaviours/packages/helpers\.py", line 2, in fail', entry)
    assert f"ValueError: model failed {where}" in entry
    assert "brace/runtime" not in entry
    assert "starlette" not in entry
    # ... and the replica keeps serving.
    assert replica.predict({"do": "echo"}).status == 200


def test_unencodable_result_is_500_with_truss_s_message(replicas: dict[str, Replica]) -> None:
    reply = replicas["behaviours"].predict({"do": "set"})
    message = "Unhandled exception: TypeError: Object of type set is not JSON serializable"
    assert (reply.status, reply.json()) == (500, {"error": message})
    assert reply.headers["x-baseten-error-code"] == "500"
    assert "TypeError: Object of type set is not JSON serializable" in replicas["behaviours"].log()


@pytest.mark.parametrize("do", ["response", "stream"])
def test_a_stream_or_response_with_postprocess_is_a_model_error(
    replicas: dict[str, Replica], do: str
) -> None:
    # Truss refuses both: postprocess would have nothing to process.
    reply = replicas["behaviours"].predict({"do": do})
    assert (reply.status, reply.json()) == (500, MODEL_ERROR)
    assert "so there is nothing for postprocess to process" in replicas["behaviours"].log()


def test_model_errors_carry_baseten_s_error_headers(replicas: dict[str, Replica]) -> None:
    reply = replicas["behaviours"].predict({"do": "raise"})
    assert (reply.headers["x-baseten-error-source"], reply.headers["x-baseten-error-code"]) == (
        "04",
        "600",
    )
    bad = replicas["behaviours"].request("POST", "/v1/models/model:predict", b"{nope")
    assert (bad.status, bad.headers["x-baseten-error-code"]) == (400, "700")
    assert bad.json()["error"].startswith("Invalid JSON payload: ")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 2000 + b"]" * 2000, id="arrays-2000-deep"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="objects-100000-deep"),
    ],
)
def test_a_body_nested_too_deeply_is_a_400_as_json(
    replicas: dict[str, Replica], body: bytes
) -> None:
    """One parser with the management API: a RecursionError is no 500 (plain text)."""
    bad = replicas["behaviours"].request("POST", "/v1/models/model:predict", body)
    assert (bad.status, bad.headers["x-baseten-error-code"]) == (400, "700")
    assert bad.json() == {"error": "Invalid JSON payload: it nests too deeply to be read"}


def test_nan_and_infinity_reach_the_model_as_truss_reads_them(
    replicas: dict[str, Replica],
) -> None:
    """Truss's server reads bodies with json.loads, so NaN is a number there too."""
    reply = replicas["behaviours"].request(
        "POST", "/v1/models/model:predict", b'{"do": "echo", "x": [NaN, Infinity]}'
    )
    assert reply.status == 200, reply.body


def test_async_methods_are_awaited(replicas: dict[str, Replica]) -> None:
    reply = replicas["async"].predict("ab")
    assert (reply.status, reply.json()) == (200, [{"async": "abab"}])


def test_request_only_predict_gets_the_raw_request(replicas: dict[str, Replica]) -> None:
    body = b"not json at all"  # nothing takes parsed inputs, so nothing parses them
    reply = replicas["request_only"].request(
        "POST", "/v1/models/model:predict", body, {"x-test": "yes"}
    )
    assert reply.status == 200
    assert reply.json() == {
        "body": "not json at all",
        "header": "yes",
        "path_params": {"model_name": "model"},
        "app": "Starlette",
    }


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("/v1/models/model:predict", {"model_name": "model"}, id="answered first"),
        pytest.param("/v1/models/other:predict", {"model_name": "other"}, id="through Starlette"),
        pytest.param("/invocations", {}, id="an alias"),
    ],
)
def test_every_predict_path_gets_the_request_starlette_would_give(
    replicas: dict[str, Replica], path: str, params: dict[str, str]
) -> None:
    reply = replicas["request_only"].request("POST", path, b"{}", {})
    assert (reply.status, reply.json()["path_params"], reply.json()["app"]) == (
        200,
        params,
        "Starlette",
    )


def test_a_get_of_the_predict_path_still_goes_through_starlette(
    replicas: dict[str, Replica],
) -> None:
    # Starlette's readiness route `/v1/models/{model_name}` matches "model:predict".
    reply = replicas["request_only"].request("GET", "/v1/models/model:predict", b"", {})
    assert (reply.status, reply.json()) == (200, {"name": "model", "ready": True})


def test_inputs_and_request_predict(replicas: dict[str, Replica]) -> None:
    reply = replicas["inputs_and_request"].predict({"q": 1}, headers={"x-test": "both"})
    assert reply.json() == {
        "input": {"q": 1},
        "path": "/v1/models/model:predict",
        "header": "both",
    }
