"""A replica's environment is made afresh: its own model's secrets and settings, what a
process and Python need, and nothing else of the server's (docs/security.md)."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import Server

ENVIRON_MODEL = """\
import os


class Model:
    def __init__(self, **kwargs):
        self._secrets = kwargs["secrets"]

    def predict(self, model_input):
        return {"environ": dict(os.environ), "secret": self._secrets.get(model_input["name"])}
"""

SERVER_ENV = {
    "BRACE_SECRET_a_token": "secret-of-model-a",
    "TRUSS_SECRET_a_other": "other-secret-of-model-a",
    "BRACE_SECRET_b_token": "secret-of-model-b",
    "AWS_SECRET_ACCESS_KEY": "the-server-user-s-cloud-key",
    "BRACE_HOLD_TIMEOUT": "30",
    "LC_ALL": "C.UTF-8",
    "TZ": "Europe/Paris",
}


@pytest.mark.parametrize("server_env", [SERVER_ENV])
def test_a_replica_sees_its_own_secrets_and_nothing_else_of_the_server_s(
    server: Server, make_truss: MakeTruss
) -> None:
    a = make_truss(
        "a",
        config="model_name: a\nsecrets:\n  a_token: null\n  a_other: null\n"
        "environment_variables:\n  MODEL_SETTING: enabled\n",
        model=ENVIRON_MODEL,
    )
    b = make_truss("b", config="model_name: b\nsecrets:\n  b_token: null\n", model=ENVIRON_MODEL)
    seen = {}
    for name, truss, secret in [("a", a, "a_token"), ("b", b, "a_token")]:
        model = server.json("push", truss, "--wait")["model"]["id"]
        answer = server.post(f"/model/{model}/development/predict", {"name": secret})
        assert answer.status == 200, answer.body
        seen[name] = answer.json()
    environ_a, environ_b = seen["a"]["environ"], seen["b"]["environ"]

    assert seen["a"]["secret"] == "secret-of-model-a"
    assert environ_a["BRACE_SECRET_a_token"] == "secret-of-model-a"
    assert environ_a["TRUSS_SECRET_a_other"] == "other-secret-of-model-a"
    assert environ_a["MODEL_SETTING"] == "enabled"
    assert "BRACE_SECRET_b_token" not in environ_a

    assert seen["b"]["secret"] is None  # b did not declare a_token: not a's to give
    values_b = json.dumps(environ_b)
    assert "secret-of-model-a" not in values_b
    assert environ_b["BRACE_SECRET_b_token"] == "secret-of-model-b"
    assert "MODEL_SETTING" not in environ_b

    for environ in (environ_a, environ_b):
        assert "BRACE_API_KEY" not in environ  # the server's key is the server's
        assert "AWS_SECRET_ACCESS_KEY" not in environ
        assert "BRACE_HOLD_TIMEOUT" not in environ
        assert {k for k in environ if k.startswith("BRACE_")} <= {
            "BRACE_HOME",
            "BRACE_ENVIRONMENT",
            "BRACE_READY_FD",
            "BRACE_SECRET_a_token",
            "BRACE_SECRET_b_token",
        }
        assert (environ["PATH"], environ["LC_ALL"], environ["TZ"]) == (
            os.environ["PATH"],
            "C.UTF-8",
            "Europe/Paris",
        )
        assert environ["BRACE_HOME"] == str(server.home)
