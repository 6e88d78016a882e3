"""Names users choose: models, deployments, environments."""

from __future__ import annotations

import pytest

from brace.errors import InvalidError
from brace.services.names import check_deployment_name, check_environment_name, check_model_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("hello", "hello", id="plain"),
        pytest.param("  My Model v2 ", "My Model v2", id="spaces-trimmed"),
        pytest.param("x" * 100, "x" * 100, id="100-chars"),
    ],
)
def test_model_names(name: str, expected: str) -> None:
    assert check_model_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("a/b", id="slash"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("a\nb", id="newline"),
        pytest.param("x" * 101, id="101-chars"),
    ],
)
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(InvalidError) as caught:
        check_model_name(name)

    assert caught.value.message.startswith("invalid model name")


@pytest.mark.parametrize("name", ["deployment-1", "v1.0", "A_b", "9", "x" * 64])
def test_deployment_names(name: str) -> None:
    assert check_deployment_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("development", "'development' is reserved", id="development"),
        pytest.param("production", "'production' is reserved", id="production"),
        pytest.param(".hidden", "invalid deployment name", id="leading-dot"),
        pytest.param("a b", "invalid deployment name", id="space"),
        pytest.param("x" * 65, "invalid deployment name", id="65-chars"),
    ],
)
def test_invalid_deployment_names(name: str, message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        check_deployment_name(name)

    assert caught.value.message.startswith(message)


@pytest.mark.parametrize("name", ["staging", "production", "canary_2", "eu-west"])
def test_environment_names(name: str) -> None:
    assert check_environment_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("development", "'development' is reserved", id="development"),
        pytest.param("Bad Name", "invalid environment name", id="space-and-caps"),
        pytest.param("v1.0", "invalid environment name", id="dot"),
        pytest.param("_x", "invalid environment name", id="leading-underscore"),
    ],
)
def test_invalid_environment_names(name: str, message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        check_environment_name(name)

    assert caught.value.message.startswith(message)
