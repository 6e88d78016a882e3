"""Loading models in-process: fresh modules from source, nothing changed on failure.

These are the properties live reload will stand on: each load returns a new model
without touching the current one, always runs the text on disk (never a stale .pyc),
and the holder's version only moves on a successful swap.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from brace.config import load_truss
from brace.runtime.holder import ModelHolder, Phase
from brace.runtime.layout import SNAPSHOT_MANIFEST, ModelLayout, layout_of, read_truss
from brace.runtime.loader import LoadedModel, LoadError, Stage, load_model
from brace.runtime.secrets import Secrets
from brace.services.snapshots import snapshot_path, take_snapshot
from tests.conftest import MakeTruss

VERSIONED = """\
class Model:
    def load(self):
        self.loaded = True

    def predict(self, model_input):
        return "v1"
"""


MODEL_MODULE = "model.model"  # model/model.py, as Truss's server names it


@pytest.fixture(autouse=True)
def restore_model_module() -> Iterator[None]:
    """The loader registers the user's module as `model.model`; leave sys.modules as
    found."""
    previous = sys.modules.get(MODEL_MODULE)
    yield
    if previous is None:
        sys.modules.pop(MODEL_MODULE, None)
    else:
        sys.modules[MODEL_MODULE] = previous


def load(directory: Path) -> LoadedModel:
    truss = read_truss(directory)
    return load_model(truss, layout_of(truss), Secrets({}, None))


def predict(model: LoadedModel) -> object:
    return model.methods.predict.function("input")


def test_each_load_is_a_fresh_module_and_instance(make_truss: MakeTruss) -> None:
    directory = make_truss("fresh", model=VERSIONED)
    first, second = load(directory), load(directory)
    assert first.instance is not second.instance
    assert first.module is not second.module
    assert type(first.instance) is not type(second.instance)
    assert first.instance.loaded and second.instance.loaded
    assert sys.modules[MODEL_MODULE] is second.module
    assert first.load_ms >= 0


def test_an_edit_within_the_same_second_and_size_is_seen(make_truss: MakeTruss) -> None:
    directory = make_truss("edits", model=VERSIONED)
    model_file = directory / "model" / "model.py"
    stat = model_file.stat()
    first = load(directory)
    model_file.write_text(VERSIONED.replace('"v1"', '"v2"'))  # same size
    os.utime(model_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime, too
    second = load(directory)
    assert (predict(first), predict(second)) == ("v1", "v2")
    assert first.source_sha256 != second.source_sha256
    assert not (directory / "model" / "__pycache__").exists()


def test_a_failed_load_leaves_the_current_model_alone(make_truss: MakeTruss) -> None:
    directory = make_truss("keeps", model=VERSIONED)
    holder = ModelHolder()
    assert holder.phase is Phase.LOADING and holder.current is None
    current = holder.swap(load(directory))
    assert (current.version, holder.phase) == (1, Phase.READY)
    (directory / "model" / "model.py").write_text("class Model:\n    def predict(self x):\n")
    with pytest.raises(LoadError) as raised:
        load(directory)
    assert raised.value.stage is Stage.IMPORT
    assert isinstance(raised.value.__cause__, SyntaxError)
    assert sys.modules[MODEL_MODULE] is current.model.module  # restored
    assert holder.current is current and predict(current.model) == "v1"
    holder.mark_failed()  # a failed *reload* must not do this, but even so:
    assert holder.phase is Phase.READY
    (directory / "model" / "model.py").write_text(VERSIONED.replace('"v1"', '"v3"'))
    assert holder.swap(load(directory)).version == 2


def test_first_load_failure_marks_the_holder_failed() -> None:
    holder = ModelHolder()
    holder.mark_failed()
    assert holder.phase is Phase.FAILED


@pytest.mark.parametrize(
    ("model", "stage"),
    [
        pytest.param("raise ImportError('x')\n", Stage.IMPORT, id="import"),
        pytest.param("from . import sibling\n", Stage.IMPORT, id="relative-import"),
        pytest.param(
            "class Model:\n    def __init__(self):\n        1 / 0\n", Stage.CONSTRUCT, id="init"
        ),
        pytest.param("class Model:\n    pass\n", Stage.DEFINITION, id="definition"),
        pytest.param(
            "class Model:\n    async def websocket(self, ws):\n        pass\n",
            Stage.DEFINITION,
            id="websocket",
        ),
        pytest.param(
            "class Model:\n    def setup_environment(self):\n        pass\n"
            "    def predict(self, x):\n        return x\n",
            Stage.DEFINITION,
            id="setup-environment-signature",
        ),
        pytest.param(
            "class Model:\n    def load(self):\n        1 / 0\n    def predict(self, x):\n"
            "        return x\n",
            Stage.LOAD,
            id="load",
        ),
    ],
)
def test_load_errors_name_their_stage(make_truss: MakeTruss, model: str, stage: Stage) -> None:
    with pytest.raises(LoadError) as raised:
        load(make_truss("stages", model=model))
    assert raised.value.stage is stage
    assert str(raised.value) == f"{stage.value} (model/model.py) failed"


def test_relative_import_in_a_top_level_model_file_gets_a_hint(make_truss: MakeTruss) -> None:
    # A model file not called model.py is a module of its own (model/model.py is
    # `model.model`, where relative imports work as in Truss's server).
    directory = make_truss(
        "relative",
        config="model_name: relative\nmodel_class_filename: main.py\n",
        model=None,
        files={"model/main.py": "from . import sibling\n"},
    )
    with pytest.raises(LoadError) as raised:
        load(directory)
    assert str(raised.value.__cause__).endswith(
        "main.py is imported on its own, not as part of a package; use absolute imports "
        "(`from model.util import ...` for model/util.py) or put shared code in packages/"
    )


def test_layout_of_a_live_directory(make_truss: MakeTruss, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    directory = make_truss(
        "live",
        config="model_name: live\nexternal_package_dirs: [../../shared]\ndata_dir: weights\n",
        files={"packages/pkg/__init__.py": ""},
    )
    layout = layout_of(read_truss(directory))
    assert layout == ModelLayout(
        root=directory,
        model_file=directory / "model" / "model.py",
        data_dir=directory / "weights",
        package_dirs=(directory / "packages", (tmp_path / "shared").resolve()),
    )
    assert layout.user_roots == tuple(map(str, (directory, *layout.package_dirs)))


def test_layout_without_packages_dir(make_truss: MakeTruss) -> None:
    assert layout_of(read_truss(make_truss("bare"))).package_dirs == ()


def test_snapshot_with_external_dirs_is_readable(make_truss: MakeTruss, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    directory = make_truss("snap", config="model_name: s\nexternal_package_dirs: [../../shared]\n")
    home = tmp_path / "home"
    home.mkdir()
    snapshot = snapshot_path(home, take_snapshot(home, load_truss(directory)))
    manifest = json.loads((snapshot / SNAPSHOT_MANIFEST).read_text())
    assert manifest == {"external_package_dirs": {"../../shared": "__external__/0"}}
    layout = layout_of(read_truss(snapshot))
    assert layout.package_dirs == (snapshot / "__external__" / "0",)


def test_a_websocket_model_is_refused_with_the_reason(make_truss: MakeTruss) -> None:
    model = "class Model:\n    async def websocket(self, ws):\n        pass\n"
    with pytest.raises(LoadError) as raised:
        load(make_truss("socket", model=model))
    assert str(raised.value.__cause__) == (
        "`websocket` models are not supported: brace's replicas and gateway serve HTTP only"
    )
