"""Cutting tracebacks to the user's frames (pure functions)."""

from __future__ import annotations

import linecache
from pathlib import Path

import pytest

from brace.runtime.sourceimport import import_file
from brace.runtime.tracebacks import BRACE_PACKAGE, cut_traceback, is_user_file

ROOT = "/srv/truss"
PACKAGES = "/srv/shared-lib"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        pytest.param("/srv/truss/model/model.py", True, id="model-file"),
        pytest.param("/srv/truss/packages/pkg/mod.py", True, id="bundled-package"),
        pytest.param("/srv/shared-lib/lib.py", True, id="external-package-dir"),
        pytest.param("/srv/truss/../truss/model/model.py", True, id="normalized"),
        pytest.param("/srv/trussy/model.py", False, id="sibling-with-same-prefix"),
        pytest.param("/usr/lib/python3.11/json/__init__.py", False, id="stdlib"),
        pytest.param(
            "/srv/truss/.venv/lib/python3.11/site-packages/x.py", False, id="venv-inside-root"
        ),
        pytest.param(f"{BRACE_PACKAGE}/runtime/pipeline.py", False, id="brace"),
        pytest.param("<frozen importlib._bootstrap>", False, id="frozen"),
        pytest.param("<string>", False, id="string"),
        pytest.param("model/model.py", False, id="relative"),
    ],
)
def test_is_user_file(filename: str, expected: bool) -> None:
    assert is_user_file(filename, (ROOT, PACKAGES), (BRACE_PACKAGE,)) is expected


def test_brace_inside_a_user_root_is_still_cut() -> None:
    parent = BRACE_PACKAGE.rsplit("/", 1)[0]  # a Truss directory that contains brace
    assert not is_user_file(f"{BRACE_PACKAGE}/runtime/app.py", (parent,), (BRACE_PACKAGE,))
    assert is_user_file(f"{parent}/model/model.py", (parent,), (BRACE_PACKAGE,))


def _compile(source: str, filename: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def raise_through_library_and_user_code(chained: bool = False) -> BaseException:
    library = _compile(
        "def call(function):\n    return function()\n",
        "/usr/lib/python3.11/site-packages/lib/call.py",
    )
    user = _compile(
        "def inner():\n"
        "    raise ValueError('bad value')\n"
        "def predict(call, chained):\n"
        "    try:\n"
        "        return call(inner)\n"
        "    except ValueError as exc:\n"
        "        if chained:\n"
        "            raise RuntimeError('predict failed') from exc\n"
        "        raise\n",
        f"{ROOT}/model/model.py",
    )
    try:
        library["call"](lambda: user["predict"](library["call"], chained))  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("nothing raised")


def test_cut_keeps_only_user_frames() -> None:
    text = cut_traceback(raise_through_library_and_user_code(), (ROOT,))
    assert text.splitlines()[0] == "Traceback (most recent call last):"
    assert f'File "{ROOT}/model/model.py", line 5, in predict' in text
    assert f'File "{ROOT}/model/model.py", line 2, in inner' in text
    assert "site-packages" not in text
    assert "test_tracebacks.py" not in text  # the caller's frames are not the user's
    assert text.splitlines()[-1] == "ValueError: bad value"


def test_cut_applies_to_chained_exceptions() -> None:
    text = cut_traceback(raise_through_library_and_user_code(chained=True), (ROOT,))
    assert "The above exception was the direct cause of the following exception" in text
    assert text.count(f'File "{ROOT}/model/model.py"') == 3
    assert "site-packages" not in text
    assert text.splitlines()[-1] == "RuntimeError: predict failed"


def test_without_user_frames_only_the_exception_remains() -> None:
    try:
        {}["key"]
    except KeyError as exc:
        assert cut_traceback(exc, (ROOT,)) == "KeyError: 'key'"


def test_syntax_error_keeps_its_location() -> None:
    try:
        compile("def f(:\n", f"{ROOT}/model/model.py", "exec")
    except SyntaxError as exc:
        text = cut_traceback(exc, (ROOT,))
    assert f'File "{ROOT}/model/model.py", line 1' in text
    assert text.splitlines()[-1].startswith("SyntaxError:")


def test_a_traceback_shows_the_source_that_ran(tmp_path: Path) -> None:
    """The error of the code that ran, with that code's line, not the line the file
    holds now (an edit saved since: `brace watch` showed the new line under the old
    error)."""
    model = tmp_path / "model.py"
    model.write_text("def predict():\n    raise ValueError('old code')\n")
    module = import_file(model, "brace_test_source_that_ran")
    model.write_text("def predict():\n    return 'new code, not loaded yet'\n")
    with pytest.raises(ValueError) as caught:
        module.predict()
    shown = cut_traceback(caught.value, [str(tmp_path)])
    assert "    raise ValueError('old code')" in shown
    assert "new code" not in shown
    # Loading the new text shows the new lines from then on.
    reloaded = import_file(model, "brace_test_source_that_ran")
    assert reloaded.predict() == "new code, not loaded yet"
    assert linecache.getline(str(model), 2) == "    return 'new code, not loaded yet'\n"
