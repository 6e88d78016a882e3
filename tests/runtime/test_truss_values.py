"""Every kind of value a model returns or raises, answered as Truss's server answers it.

Real replicas: HTTPExceptions (FastAPI's and Starlette's), None, strings, bytes, user
Responses, pydantic models in and out, numpy-like values, the OpenAI-style endpoints
and Truss's extra routes. The bodies and statuses are Truss 0.18's (docs/serving.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from brace.runtime.payloads import encode_result, format_validation_error
from tests.runtime.conftest import Launcher, Replica, write_truss

VALUES = """\
from fastapi import HTTPException as FastAPIHTTPException
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

NumpyLike = type("float64", (), {"__module__": "numpy", "tolist": lambda self: 1.5})


class Out(BaseModel):
    text: str
    n: int


class Model:
    def predict(self, model_input):
        do = model_input["do"]
        if do == "fastapi":
            raise FastAPIHTTPException(status_code=400, detail="text must not be empty")
        if do == "fastapi-detail":
            raise FastAPIHTTPException(status_code=422, detail={"field": "text"})
        if do == "starlette":
            raise StarletteHTTPException(status_code=404, detail="no such item")
        if do == "none":
            return None
        if do == "str":
            return "plain text"
        if do == "bytes":
            return b"raw"
        if do == "error-response":
            return Response(b"teapot", status_code=418)
        if do == "json-response":
            return JSONResponse({"made": "by the model"}, status_code=201)
        if do == "numpy":
            return {"value": NumpyLike(), "values": [NumpyLike()]}
        if do == "pydantic":
            return Out(text="out", n=2)
        if do == "nested-pydantic":
            return {"items": [Out(text="a", n=1)]}
        raise ValueError(do)
"""

TYPED = """\
from pydantic import BaseModel


class Item(BaseModel):
    text: str
    count: int = 1


class Model:
    def predict(self, model_input: Item):
        return {"type": type(model_input).__name__, "text": model_input.text,
                "count": model_input.count}
"""

ENDPOINTS = """\
from starlette.requests import Request


class Model:
    def predict(self, model_input):
        return {"predict": model_input}

    def chat_completions(self, model_input):
        for word in model_input["messages"]:
            yield word + " "

    async def embeddings(self, model_input, request: Request):
        return {"data": [len(model_input["input"])], "path": request.url.path}
"""

FASTAPI_HEADERS = {"x-baseten-error-source": "04", "x-baseten-error-code": "600"}


@pytest.fixture(scope="module")
def replicas(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Replica]:
    root = tmp_path_factory.mktemp("values")
    started = {
        name: module_replicas(write_truss(root / name, f"model_name: {name}\n", model), wait=False)
        for name, model in (("values", VALUES), ("typed", TYPED), ("endpoints", ENDPOINTS))
    }
    return {name: replica.wait_ready() for name, replica in started.items()}


def answer(replica: Replica, do: str) -> tuple[int, Any]:
    reply = replica.predict({"do": do})
    return reply.status, reply.json()


def test_fastapi_http_exception_passes_status_and_detail(replicas: dict[str, Replica]) -> None:
    reply = replicas["values"].predict({"do": "fastapi"})
    assert (reply.status, reply.json()) == (400, {"error": "text must not be empty"})
    assert {k: reply.headers[k] for k in FASTAPI_HEADERS} == FASTAPI_HEADERS
    assert answer(replicas["values"], "fastapi-detail") == (422, {"error": {"field": "text"}})
    assert "HTTPException" in replicas["values"].log()


def test_starlette_http_exception_passes_too_with_a_warning(
    replicas: dict[str, Replica],
) -> None:
    # Truss's server answers 500 for Starlette's own class; brace passes it through and
    # says in the log that Baseten would not.
    assert answer(replicas["values"], "starlette") == (404, {"error": "no such item"})
    assert "raise fastapi.HTTPException to get status 404 on Baseten too" in (
        replicas["values"].log()
    )


@pytest.mark.parametrize(
    ("do", "expected"),
    [
        pytest.param("none", (200, None), id="none"),
        pytest.param("str", (200, "plain text"), id="str"),
        pytest.param(
            "bytes",
            (
                500,
                {
                    "error": "Unhandled exception: TypeError: Object of type bytes is not JSON "
                    "serializable"
                },
            ),
            id="bytes",
        ),
        pytest.param("json-response", (201, {"made": "by the model"}), id="json-response"),
        pytest.param("numpy", (200, {"value": 1.5, "values": [1.5]}), id="numpy"),
        pytest.param("pydantic", (200, {"text": "out", "n": 2}), id="pydantic"),
        pytest.param("nested-pydantic", (200, {"items": [{"text": "a", "n": 1}]}), id="nested"),
    ],
)
def test_results(replicas: dict[str, Replica], do: str, expected: tuple[int, Any]) -> None:
    assert answer(replicas["values"], do) == expected


def test_a_returned_error_response_gets_baseten_s_headers(replicas: dict[str, Replica]) -> None:
    reply = replicas["values"].predict({"do": "error-response"})
    assert (reply.status, reply.body) == (418, b"teapot")
    assert reply.headers["x-baseten-error-code"] == "700"


def test_a_pydantic_annotated_input_is_parsed_into_the_model(
    replicas: dict[str, Replica],
) -> None:
    reply = replicas["typed"].predict({"text": "hi"})
    assert (reply.status, reply.json()) == (200, {"type": "Item", "text": "hi", "count": 1})
    missing = replicas["typed"].predict({"count": "many"})
    assert missing.status == 400
    assert missing.json() == {
        "error": "Input Parsing Errors:\n"
        "  `text`: Field required.\n"
        "  `count`: Input should be a valid integer, unable to parse string as an integer."
    }
    assert missing.headers["x-baseten-error-code"] == "700"


def test_openai_style_endpoints_call_the_model_s_method(replicas: dict[str, Replica]) -> None:
    replica = replicas["endpoints"]
    body = json.dumps({"messages": ["a", "b"]}).encode()
    chat = replica.request("POST", "/v1/chat/completions", body)
    assert (chat.status, chat.body) == (200, b"a b ")
    embeddings = replica.request("POST", "/v1/embeddings", b'{"input": "abc"}')
    assert embeddings.json() == {"data": [3], "path": "/v1/embeddings"}
    missing = replica.request("POST", "/v1/completions", b"{}")
    assert (missing.status, missing.json()) == (
        404,
        {"error": "`completions` must only be called if model has it."},
    )


def test_truss_s_other_routes(replicas: dict[str, Replica]) -> None:
    replica = replicas["endpoints"]
    for path in ("/v1/models/model/loaded", "/ping"):
        reply = replica.request("GET", path)
        assert (reply.status, reply.json()) == (200, {}), path
    invocations = replica.request("POST", "/invocations", b'{"x": 1}')
    assert invocations.json() == {"predict": {"x": 1}}


def test_encode_result_of_plain_values() -> None:
    assert encode_result({"a": [1, "b", None]}) == b'{"a": [1, "b", null]}'
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        encode_result({1})


class _FakeValidationError(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


@pytest.mark.parametrize(
    ("errors", "text"),
    [
        pytest.param(
            [{"loc": ("text",), "msg": "Field required"}],
            "Input Parsing Error:\n  `text`: Field required.",
            id="one",
        ),
        pytest.param(
            [{"loc": ("items", 1, "value"), "msg": "bad"}, {"loc": ("a",), "msg": "worse"}],
            "Input Parsing Errors:\n  `items[1].value`: bad.\n  `a`: worse.",
            id="nested",
        ),
        pytest.param([{"msg": "no loc"}], "Input Parsing Error, ", id="unknown-shape"),
    ],
)
def test_validation_errors_are_worded_as_truss_words_them(
    errors: list[dict[str, Any]], text: str
) -> None:
    assert format_validation_error(_FakeValidationError(errors)).startswith(text)
