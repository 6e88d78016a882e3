"""The Truss contract a model relies on, checked through a real replica.

One "contract" model reports what it was given (constructor kwargs, data_dir,
environment variables at import and in load(), importable packages, secrets); it runs
from its live directory and from a published snapshot. Two small models check that
`__init__` only receives the arguments it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brace.config import load_truss
from brace.runtime.layout import SNAPSHOT_MANIFEST
from brace.services import snapshots
from tests.runtime.conftest import Launcher, Replica, replica_env, write_truss

CONTRACT_CONFIG = """\
    model_name: contract
    environment_variables:
      CONTRACT_FLAG: "on"
      CONTRACT_NUMBER: 3
      CONTRACT_BOOL: true
    secrets:
      from_brace_env: null
      from_truss_env: null
      from_home: null
      missing: null
    external_package_dirs:
      - ../shared
"""

CONTRACT_MODEL = """\
    import logging
    import os

    import extlib
    import helper_pkg.inner
    from model.util import helper

    ENV_AT_IMPORT = os.environ.get("CONTRACT_FLAG")


    class Model:
        def __init__(self, **kwargs):
            self._kwargs = kwargs
            self._env_at_load = None

        def load(self):
            names = ("CONTRACT_FLAG", "CONTRACT_NUMBER", "CONTRACT_BOOL")
            self._env_at_load = {name: os.environ.get(name) for name in names}
            # A model that logs its secrets mapping must not leak the values.
            logging.getLogger(__name__).info("secrets: %r", self._kwargs["secrets"])
            print("printed secrets:", self._kwargs["secrets"])

        def predict(self, model_input):
            if "secret" in model_input:
                secrets = self._kwargs["secrets"]
                try:
                    return {"value": secrets[model_input["secret"]]}
                except KeyError as exc:
                    return {"error": str(exc), "type": type(exc).__name__,
                            "get": secrets.get(model_input["secret"]),
                            "in": model_input["secret"] in secrets}
            data_dir = self._kwargs["data_dir"]
            return {
                "kwargs": sorted(self._kwargs),
                "config_model_name": self._kwargs["config"]["model_name"],
                "config_has_runtime": "runtime" in self._kwargs["config"],
                "data_dir": str(data_dir),
                "data_dir_type": type(data_dir).__name__,
                "data": (data_dir / "info.txt").read_text(),
                "environment": self._kwargs["environment"],
                "env_at_import": ENV_AT_IMPORT,
                "env_at_load": self._env_at_load,
                "packages": helper_pkg.inner.VALUE,
                "external": extlib.VALUE,
                "module": __name__,
                "sibling": helper(),
                "lazy_data": self._kwargs["lazy_data_resolver"].block_until_download_complete(),
            }
"""

SECRETS = {
    "BRACE_SECRET_from_brace_env": "brace-env-value",
    "TRUSS_SECRET_from_brace_env": "loses-to-brace",
    "TRUSS_SECRET_from_truss_env": "truss-env-value",
}
HOME_SECRET = "home-file-value"


def contract_truss(root: Path) -> Path:
    write_truss(root / "shared", "model_name: unused\n", "", {"extlib.py": 'VALUE = "external"\n'})
    return write_truss(
        root / "contract",
        CONTRACT_CONFIG,
        CONTRACT_MODEL,
        {
            "packages/helper_pkg/__init__.py": "",
            "packages/helper_pkg/inner.py": 'VALUE = "packages"\n',
            "model/util.py": 'def helper():\n    return "sibling module"\n',
            "data/info.txt": "weights go here",
        },
    )


INIT_CONFIG_ONLY = """\
    class Model:
        def __init__(self, config):
            self._got = ["config"]
            self._name = config["model_name"]

        def predict(self, model_input):
            return {"got": self._got, "name": self._name}
"""

INIT_NAMED = """\
    class Model:
        def __init__(self, data_dir, secrets, environment=None):
            self._got = sorted(k for k, v in locals().items() if k != "self")
            self._environment = environment

        def predict(self, model_input):
            return {"got": self._got, "environment": self._environment}
"""


@pytest.fixture(scope="module")
def replicas(module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("contract")
    home = root / "home"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / "from_home").write_text(HOME_SECRET + "\n")
    live = contract_truss(root)
    snapshot = snapshots.snapshot_path(home, snapshots.take_snapshot(home, load_truss(live)))
    # The live directory runs the current code; the snapshot its own copy.
    (root / "shared" / "extlib.py").write_text('VALUE = "edited"\n')
    env = replica_env(home, SECRETS)
    started = {
        "live": module_replicas(live, env=env, wait=False),
        "snapshot": module_replicas(snapshot, env=env, wait=False),
        "config_only": module_replicas(
            write_truss(root / "config-only", "model_name: c\n", INIT_CONFIG_ONLY), wait=False
        ),
        "named": module_replicas(
            write_truss(root / "named", "model_name: n\n", INIT_NAMED), wait=False
        ),
    }
    ready = {name: replica.wait_ready() for name, replica in started.items()}
    return {**ready, "live_dir": live, "snapshot_dir": snapshot}


def report(replica: Replica) -> dict[str, Any]:
    reply = replica.predict({})
    assert reply.status == 200, replica.log()
    result: dict[str, Any] = reply.json()
    return result


def test_kwargs_are_all_passed_to_a_kwargs_init(replicas: dict[str, Any]) -> None:
    got = report(replicas["live"])
    assert got["kwargs"] == ["config", "data_dir", "environment", "lazy_data_resolver", "secrets"]
    assert got["config_model_name"] == "contract"
    assert got["environment"] is None  # no BRACE_ENVIRONMENT: in no environment
    assert got["lazy_data"] == ""  # nothing to download, as Truss answers without model_cache


def test_init_gets_only_the_arguments_it_names(replicas: dict[str, Any]) -> None:
    assert replicas["config_only"].predict({}).json() == {"got": ["config"], "name": "c"}
    named = replicas["named"].predict({}).json()
    assert named == {"got": ["data_dir", "environment", "secrets"], "environment": None}


def test_data_dir_is_the_trusss_data_directory(replicas: dict[str, Any]) -> None:
    got = report(replicas["live"])
    assert got["data_dir"] == str(replicas["live_dir"] / "data")
    assert got["data_dir_type"].endswith("Path")
    assert got["data"] == "weights go here"


def test_environment_variables_are_set_before_import_and_load(replicas: dict[str, Any]) -> None:
    got = report(replicas["live"])
    assert got["env_at_import"] == "on"
    assert got["env_at_load"] == {
        "CONTRACT_FLAG": "on",
        "CONTRACT_NUMBER": "3",
        "CONTRACT_BOOL": "true",
    }


def test_packages_and_external_package_dirs_import(replicas: dict[str, Any]) -> None:
    got = report(replicas["live"])
    assert (got["packages"], got["external"]) == ("packages", "edited")


def test_the_model_directory_is_the_package_model(replicas: dict[str, Any]) -> None:
    # As in Truss's server: model/model.py is `model.model`, and its siblings import as
    # `model.<name>`.
    for name in ("live", "snapshot"):
        got = report(replicas[name])
        assert (got["module"], got["sibling"]) == ("model.model", "sibling module")


def test_snapshot_resolves_external_dirs_through_its_manifest(replicas: dict[str, Any]) -> None:
    assert SNAPSHOT_MANIFEST == snapshots.MANIFEST
    got = report(replicas["snapshot"])
    assert got["external"] == "external"  # its own copy, not the edited original
    assert got["packages"] == "packages"
    assert got["data_dir"] == str(replicas["snapshot_dir"] / "data")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("from_brace_env", "brace-env-value", id="BRACE_SECRET-wins"),
        pytest.param("from_truss_env", "truss-env-value", id="TRUSS_SECRET"),
        pytest.param("from_home", HOME_SECRET, id="brace-home-file"),
    ],
)
def test_secrets_resolve(replicas: dict[str, Any], name: str, value: str) -> None:
    assert replicas["live"].predict({"secret": name}).json() == {"value": value}


def test_missing_secret_says_where_to_put_it(replicas: dict[str, Any]) -> None:
    got = replicas["live"].predict({"secret": "missing"}).json()
    assert got["type"] == "SecretNotFound"
    assert got["error"].startswith("secret 'missing' has no value; put it in ")
    assert "BRACE_SECRET_missing" in got["error"]
    assert "/secrets/missing" in got["error"]
    assert (got["get"], got["in"]) == (None, False)


def test_undeclared_secret_is_refused(replicas: dict[str, Any]) -> None:
    got = replicas["live"].predict({"secret": "undeclared"}).json()
    assert got["error"].startswith("secret 'undeclared' is not declared in config.yaml")


def test_secret_values_never_reach_the_log(replicas: dict[str, Any]) -> None:
    log = replicas["live"].log()
    assert "secrets: Secrets(names=" in log
    assert "printed secrets: Secrets(names=" in log
    for value in (*SECRETS.values(), HOME_SECRET):
        assert value not in log


def test_user_code_writes_no_bytecode(replicas: dict[str, Any]) -> None:
    report(replicas["live"])
    assert not list(replicas["live_dir"].rglob("__pycache__"))


def test_a_missing_data_directory_is_created(tmp_path: Path, start_replica: Launcher) -> None:
    # Truss's server creates `data/` before loading; models write downloads there.
    truss = write_truss(
        tmp_path / "no-data",
        "model_name: d\n",
        "class Model:\n"
        "    def __init__(self, data_dir):\n"
        "        self._data_dir = data_dir\n"
        "    def predict(self, model_input):\n"
        "        return self._data_dir.is_dir()\n",
    )
    assert start_replica(truss).predict({}).json() is True
