"""Truss's rules for the model's method signatures (pure functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request

from brace.runtime.signatures import (
    ArgConfig,
    ModelDefinitionError,
    arg_config,
    describe_model,
    init_kwargs,
)


class MyRequest(Request):
    pass


class Methods:
    def none(self) -> None: ...
    def inputs(self, model_input): ...  # type: ignore[no-untyped-def]
    def annotated_inputs(self, model_input: dict[str, Any]) -> None: ...
    def request(self, request: Request) -> None: ...
    def request_subclass(self, request: MyRequest) -> None: ...
    def unresolvable(self, request: NotImportedHere) -> None: ...  # type: ignore[name-defined]  # noqa: F821
    def both(self, model_input: Any, request: Request) -> None: ...
    async def both_async(self, model_input: Any, request: Request) -> None: ...
    def unannotated_pair(self, model_input, request): ...  # type: ignore[no-untyped-def]
    def request_first(self, request: Request, model_input: Any) -> None: ...
    def three(self, a: Any, b: Any, request: Request) -> None: ...


M = Methods()


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        pytest.param(M.none, ArgConfig.NONE, id="no-arguments"),
        pytest.param(M.inputs, ArgConfig.INPUTS_ONLY, id="inputs"),
        pytest.param(M.annotated_inputs, ArgConfig.INPUTS_ONLY, id="annotated-inputs"),
        pytest.param(M.request, ArgConfig.REQUEST_ONLY, id="request"),
        pytest.param(M.request_subclass, ArgConfig.REQUEST_ONLY, id="request-subclass"),
        # This module uses `from __future__ import annotations`, so every annotation
        # above is a string that had to be evaluated; one that cannot be evaluated is
        # taken as written, which is not a Request.
        pytest.param(M.unresolvable, ArgConfig.INPUTS_ONLY, id="unresolvable-annotation"),
        pytest.param(M.both, ArgConfig.INPUTS_AND_REQUEST, id="inputs-and-request"),
        pytest.param(M.both_async, ArgConfig.INPUTS_AND_REQUEST, id="async"),
    ],
)
def test_arg_config(method: Callable[..., Any], expected: ArgConfig) -> None:
    assert arg_config(method, "predict") is expected


@pytest.mark.parametrize(
    ("method", "message"),
    [
        pytest.param(M.unannotated_pair, "second one must be annotated", id="unannotated-pair"),
        pytest.param(M.request_first, "the request must be the second one", id="request-first"),
        pytest.param(M.three, "at most two arguments", id="three-arguments"),
    ],
)
def test_arg_config_refuses(method: Callable[..., Any], message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        arg_config(method, "predict")


AVAILABLE = {"config": {"a": 1}, "data_dir": "/d", "secrets": {}, "environment": None}


class InitKwargs:
    def __init__(self, **kwargs: Any) -> None: ...


class InitConfig:
    def __init__(self, config: Any) -> None: ...


class InitSome:
    def __init__(self, data_dir: Any, *, secrets: Any = None, other: int = 0) -> None: ...


class InitPositionalOnly:
    def __init__(self, config: Any, /) -> None: ...


class NoInit:
    pass


@pytest.mark.parametrize(
    ("model_class", "expected"),
    [
        pytest.param(InitKwargs, sorted(AVAILABLE), id="kwargs-gets-all"),
        pytest.param(InitConfig, ["config"], id="config-only"),
        pytest.param(InitSome, ["data_dir", "secrets"], id="named-and-keyword-only"),
        pytest.param(InitPositionalOnly, [], id="positional-only-is-not-by-name"),
        pytest.param(NoInit, [], id="no-init"),
    ],
)
def test_init_kwargs(model_class: type, expected: list[str]) -> None:
    assert sorted(init_kwargs(model_class, AVAILABLE)) == expected


class Full:
    def preprocess(self, model_input: Any) -> Any: ...
    def predict(self, model_input: Any) -> Any: ...
    def postprocess(self, result: Any) -> Any: ...
    def is_healthy(self) -> bool:
        return True


class StreamingAsync:
    async def predict(self, model_input: Any) -> Any:
        yield model_input


class RequestOnly:
    def predict(self, request: Request) -> Any: ...


class PreprocessAndRequestOnly:
    def preprocess(self, model_input: Any) -> Any: ...
    def predict(self, request: Request) -> Any: ...


class PostprocessRequestOnly:
    def predict(self, model_input: Any) -> Any: ...
    def postprocess(self, request: Request) -> Any: ...


class HealthWithArgument:
    def predict(self, model_input: Any) -> Any: ...
    def is_healthy(self, model_input: Any) -> bool:
        return True


class NoPredict:
    def load(self) -> None: ...


class NotCallable:
    predict = 42


def test_describe_full_model() -> None:
    methods = describe_model(Full())
    assert methods.preprocess is not None and methods.postprocess is not None
    assert methods.is_healthy is not None and methods.is_healthy.args is ArgConfig.NONE
    assert not methods.predict.is_async and not methods.predict.is_generator
    assert not methods.skip_input_parsing


def test_async_generator_is_a_generator_not_a_coroutine() -> None:
    predict = describe_model(StreamingAsync()).predict
    assert (predict.is_generator, predict.is_async) == (True, False)


def test_request_only_predict_skips_input_parsing() -> None:
    assert describe_model(RequestOnly()).skip_input_parsing


@pytest.mark.parametrize(
    ("model_class", "message"),
    [
        pytest.param(NoPredict, "has no `predict` method", id="no-predict"),
        pytest.param(NotCallable, "must be a method", id="predict-not-callable"),
        pytest.param(PreprocessAndRequestOnly, "cannot take only the request", id="pre+request"),
        pytest.param(PostprocessRequestOnly, "`postprocess` cannot take only", id="post-request"),
        pytest.param(HealthWithArgument, "`is_healthy` must take no arguments", id="health-arg"),
    ],
)
def test_describe_refuses(model_class: type, message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        describe_model(model_class())
