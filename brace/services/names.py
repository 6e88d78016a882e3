"""Rules for names users choose: models, deployments, environments."""

from __future__ import annotations

import re

from brace.errors import InvalidError
from brace.services.lookup import DEVELOPMENT, PRODUCTION

_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_model_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "/\\") or not name.isprintable():
        raise InvalidError(
            f"invalid model name {name!r}",
            "Use up to 100 printable characters, without '/' or '\\'.",
        )
    return name


def check_deployment_name(name: str) -> str:
    if name in (DEVELOPMENT, PRODUCTION):
        raise InvalidError(
            f"{name!r} is reserved: it names the model's {name} deployment",
            "Choose another name.",
        )
    if not _DEPLOYMENT.match(name):
        raise InvalidError(
            f"invalid deployment name {name!r}",
            "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def check_environment_name(name: str) -> str:
    if name == DEVELOPMENT:
        raise InvalidError(
            "'development' is reserved: it names the development deployment",
            "Choose another name, such as 'staging'.",
        )
    if not _ENVIRONMENT.match(name):
        raise InvalidError(
            f"invalid environment name {name!r}",
            "Use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit.",
        )
    return name
