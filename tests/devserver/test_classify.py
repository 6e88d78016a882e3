"""What a saved change means: paths (classify), config fields (diff_config), the words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from brace.config import TrussConfig, load_truss
from brace.devserver.classify import (
    Batch,
    ChangeKind,
    ConfigDiff,
    ConfigSnapshot,
    Effect,
    Layout,
    classify,
    diff_config,
    field_effect,
    ignored,
    remarks,
    replacement_reason,
    sort_changes,
)

ROOT = Path("/work/truss")
LAYOUT = Layout(
    root=ROOT,
    config_file=ROOT / "config.yaml",
    requirements_file=ROOT / "requirements.txt",
    code_dirs=(ROOT / "model", ROOT / "packages", Path("/work/common")),
    data_dir=ROOT / "data",
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param("model/model.py", ChangeKind.CODE, id="model-file"),
        pytest.param("model/helpers/util.py", ChangeKind.CODE, id="model-subpackage"),
        pytest.param("model/prompt.txt", ChangeKind.CODE, id="non-python-in-model-dir"),
        pytest.param("packages/tok/__init__.py", ChangeKind.CODE, id="bundled-package"),
        pytest.param("/work/common/shared.py", ChangeKind.CODE, id="external-package-dir"),
        pytest.param("scripts/tool.py", ChangeKind.CODE, id="any-python-file"),
        pytest.param("data/weights.bin", ChangeKind.DATA, id="data"),
        pytest.param("data/sub/labels.py", ChangeKind.DATA, id="python-in-data-is-data"),
        pytest.param("config.yaml", ChangeKind.CONFIG, id="config"),
        pytest.param("requirements.txt", ChangeKind.REQUIREMENTS, id="requirements-file"),
        pytest.param("README.md", ChangeKind.IGNORED, id="unused-file"),
        pytest.param("model/config.yaml", ChangeKind.CODE, id="nested-config-is-code"),
        pytest.param("model/__pycache__/model.cpython-311.pyc", ChangeKind.IGNORED, id="pycache"),
        pytest.param("model/model.pyc", ChangeKind.IGNORED, id="bytecode"),
        pytest.param("model/.model.py.swp", ChangeKind.IGNORED, id="vim-swap"),
        pytest.param("model/.model.py.swx", ChangeKind.IGNORED, id="vim-swap-x"),
        pytest.param("model/4913", ChangeKind.IGNORED, id="vim-write-probe"),
        pytest.param("model/model.py~", ChangeKind.IGNORED, id="backup"),
        pytest.param("model/.#model.py", ChangeKind.IGNORED, id="emacs-lock"),
        pytest.param("model/#model.py#", ChangeKind.IGNORED, id="emacs-autosave"),
        pytest.param("model/model.py___jb_tmp___", ChangeKind.IGNORED, id="jetbrains"),
        pytest.param("model/model.py.crswap", ChangeKind.IGNORED, id="vscode-crswap"),
        pytest.param("model/.goutputstream-X1Y2", ChangeKind.IGNORED, id="gedit"),
        pytest.param("model/sedAb12Cd", ChangeKind.IGNORED, id="sed-i"),
        pytest.param("model/model.py.tmp", ChangeKind.IGNORED, id="tmp"),
        pytest.param(".git/index", ChangeKind.IGNORED, id="git"),
        pytest.param(".venv/lib/site.py", ChangeKind.IGNORED, id="virtualenv"),
        pytest.param("packages/x/node_modules/a.py", ChangeKind.IGNORED, id="node-modules"),
        pytest.param("/elsewhere/x.py", ChangeKind.IGNORED, id="outside-every-root"),
    ],
)
def test_classify(path: str, kind: ChangeKind) -> None:
    assert classify(ROOT / path, LAYOUT) is kind


def test_a_directory_named_like_an_ignored_one_above_the_truss_does_not_matter() -> None:
    root = Path("/home/me/venv/project")
    layout = Layout(root, root / "config.yaml", None, (root / "model",), root / "data")
    assert classify(root / "model" / "model.py", layout) is ChangeKind.CODE


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("model.py", False, id="source"),
        pytest.param("a/b/__pycache__/x.pyc", True, id="cache-dir"),
        pytest.param("__pycache__", True, id="cache-dir-itself"),
        pytest.param(".DS_Store", True, id="finder"),
        pytest.param("flycheck_model.py", True, id="flycheck"),
        pytest.param("sedling.py", False, id="not-sed-temp"),
        pytest.param("swap.py", False, id="not-a-swap-file"),
    ],
)
def test_ignored(path: str, expected: bool) -> None:
    assert ignored(path) is expected


def test_sort_changes_groups_and_sorts_display_paths() -> None:
    paths = [
        ROOT / "model/model.py",
        ROOT / "model/.model.py.swp",
        ROOT / "data/a.bin",
        ROOT / "config.yaml",
        ROOT / "packages/b.py",
        Path("/work/common/c.py"),
    ]
    assert sort_changes(paths, LAYOUT) == Batch(
        code=("../common/c.py", "model/model.py", "packages/b.py"),
        data=("data/a.bin",),
        config=("config.yaml",),
    )
    assert not sort_changes([ROOT / "model/.model.py.swp", ROOT / "README.md"], LAYOUT)


def test_layout_of_a_truss(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    root = tmp_path / "m"
    (root / "src").mkdir(parents=True)
    (root / "src" / "model.py").write_text("class Model: ...\n")
    (root / "reqs.txt").write_text("")
    (root / "config.yaml").write_text(
        "model_module_dir: src\nbundled_packages_dir: libs\ndata_dir: weights\n"
        "requirements_file: reqs.txt\nexternal_package_dirs: [../common]\n"
    )
    layout = Layout.of(load_truss(root))
    assert layout.code_dirs == (root / "src", root / "libs", tmp_path / "common")
    assert layout.data_dir == root / "weights"
    assert layout.requirements_file == root / "reqs.txt"
    assert layout.watch_roots == (root, tmp_path / "common")
    assert classify(tmp_path / "common" / "x.py", layout) is ChangeKind.CODE
    assert layout.display(tmp_path / "common" / "x.py") == "../common/x.py"


@pytest.mark.parametrize(
    ("name", "effect"),
    [
        pytest.param("environment_variables", Effect.REPLACE, id="environment_variables"),
        pytest.param("secrets", Effect.REPLACE, id="secrets"),
        pytest.param("runtime", Effect.REPLACE, id="runtime"),
        pytest.param("resources", Effect.REPLACE, id="resources"),
        pytest.param("model_class_name", Effect.REPLACE, id="model_class_name"),
        pytest.param("external_package_dirs", Effect.REPLACE, id="external_package_dirs"),
        pytest.param("requirements", Effect.REBUILD, id="requirements"),
        pytest.param("requirements_file", Effect.REBUILD, id="requirements_file"),
        pytest.param("model_name", Effect.INFO, id="model_name"),
        pytest.param("description", Effect.INFO, id="description"),
        pytest.param("model_metadata", Effect.INFO, id="model_metadata"),
        pytest.param("system_packages", Effect.NOT_APPLIED, id="system_packages"),
        pytest.param("python_version", Effect.NOT_APPLIED, id="python_version"),
        pytest.param("base_image", Effect.NOT_APPLIED, id="base_image"),
        pytest.param("some_new_field", Effect.NOT_APPLIED, id="unknown"),
    ],
)
def test_field_effect(name: str, effect: Effect) -> None:
    assert field_effect(name) is effect


BASE = """\
model_name: hello
environment_variables: {GREETING: hi}
"""


def _snapshot(tmp_path: Path, config: str, files: dict[str, str] | None = None) -> ConfigSnapshot:
    (tmp_path / "model").mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    (tmp_path / "config.yaml").write_text(textwrap.dedent(config))
    return ConfigSnapshot.of(load_truss(tmp_path, check_model=False))


@pytest.mark.parametrize(
    ("new", "files", "expected"),
    [
        pytest.param(BASE, {}, ConfigDiff(), id="same"),
        pytest.param(BASE + "# a comment\n", {}, ConfigDiff(), id="comment-only"),
        pytest.param(
            "model_name: hello\nenvironment_variables: {GREETING: 'hi'}\n",
            {},
            ConfigDiff(),
            id="same-value-other-spelling",
        ),
        pytest.param(
            "model_name: hello\nenvironment_variables: {GREETING: yo}\n",
            {},
            ConfigDiff(replace=("environment_variables",)),
            id="environment-variable",
        ),
        pytest.param(
            BASE + "secrets: {hf_token: null}\n",
            {},
            ConfigDiff(replace=("secrets",)),
            id="secrets",
        ),
        pytest.param(
            BASE + "runtime: {predict_concurrency: 4}\nresources: {cpu: '2'}\n",
            {},
            ConfigDiff(replace=("resources", "runtime")),
            id="runtime-and-resources",
        ),
        pytest.param(
            BASE + "runtime: {predict_concurrency: 1}\n",
            {},
            ConfigDiff(),
            id="runtime-default-spelled-out",
        ),
        pytest.param(
            BASE + "requirements: [six]\n", {}, ConfigDiff(rebuild=True), id="requirements"
        ),
        pytest.param(
            BASE + "requirements_file: r.txt\n",
            {"r.txt": "six\n"},
            ConfigDiff(rebuild=True),
            id="requirements-file",
        ),
        pytest.param(
            BASE + "requirements_file: r.txt\n",
            {"r.txt": "# nothing yet\n"},
            ConfigDiff(),
            id="empty-requirements-file",
        ),
        pytest.param(
            "model_name: hi\ndescription: d\nenvironment_variables: {GREETING: hi}\n",
            {},
            ConfigDiff(info=("description", "model_name")),
            id="name-and-description",
        ),
        pytest.param(
            BASE + "model_metadata: {example_model_input: {x: 1}}\n",
            {},
            ConfigDiff(info=("model_metadata",)),
            id="metadata",
        ),
        pytest.param(
            BASE + "system_packages: [ffmpeg]\npython_version: py39\n",
            {},
            ConfigDiff(not_applied=("python_version", "system_packages")),
            id="cannot-apply",
        ),
        pytest.param(
            BASE + "colour: blue\n", {}, ConfigDiff(not_applied=("colour",)), id="unknown-field"
        ),
        pytest.param(
            "model_name: hello\n",
            {},
            ConfigDiff(replace=("environment_variables",)),
            id="field-removed",
        ),
    ],
)
def test_diff_config(tmp_path: Path, new: str, files: dict[str, str], expected: ConfigDiff) -> None:
    old = _snapshot(tmp_path / "old", BASE)
    assert diff_config(old, _snapshot(tmp_path / "new", new, files)) == expected


def test_requirements_file_content_counts(tmp_path: Path) -> None:
    config = BASE + "requirements_file: r.txt\n"
    old = _snapshot(tmp_path, config, {"r.txt": "six\n"})
    same = _snapshot(tmp_path, config, {"r.txt": "six  # comment\n"})
    new = _snapshot(tmp_path, config, {"r.txt": "six\nattrs\n"})
    assert diff_config(old, same) == ConfigDiff()
    assert diff_config(old, new) == ConfigDiff(rebuild=True)
    assert diff_config(old, new).needs_replica


def test_remarks_repeat_the_notices_of_changed_fields_only() -> None:
    diff = ConfigDiff(replace=("resources",), not_applied=("system_packages", "build_commands"))
    notices = [
        ("system_packages", "system_packages (ffmpeg) are not installed by brace"),
        ("resources.accelerator", "resources.accelerator A10G is requested, but no GPU"),
        ("python_version", "python_version is py39, but ..."),  # unchanged: not repeated
    ]
    config = TrussConfig(model_name="hello")
    said = remarks(diff, notices, config, "hello")
    assert [(r.fields, r.message, r.applied) for r in said] == [
        (("system_packages",), "system_packages (ffmpeg) are not installed by brace", False),
        (("resources",), "resources.accelerator A10G is requested, but no GPU", False),
        (
            ("build_commands",),
            "build_commands changed; brace cannot apply it on this machine, so it has no "
            "effect here",
            False,
        ),
    ]


def test_remarks_on_name_and_description() -> None:
    diff = ConfigDiff(info=("description", "model_name"))
    config = TrussConfig(model_name="renamed")
    said = remarks(diff, [], config, "hello")
    assert [r.message for r in said] == [
        "model_name changed to 'renamed'; this watch keeps serving model 'hello' "
        "(restart `brace watch` to push the new name)",
        "description changed; nothing to apply",
    ]
    assert all(r.applied for r in said)


@pytest.mark.parametrize(
    ("diff", "reason"),
    [
        pytest.param(
            ConfigDiff(replace=("environment_variables",)),
            "environment_variables changed: starting a new replica",
            id="replace",
        ),
        pytest.param(
            ConfigDiff(replace=("secrets",), rebuild=True),
            "secrets, requirements changed: building the Python environment, then starting "
            "a new replica",
            id="rebuild",
        ),
        pytest.param(
            ConfigDiff(), "the last start failed: starting a new replica", id="retry-after-failure"
        ),
    ],
)
def test_replacement_reason(diff: ConfigDiff, reason: str) -> None:
    assert replacement_reason(diff) == reason
