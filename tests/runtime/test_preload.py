"""What a model's files import at top level (read, never run), and the preload's
refusals in a real interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from brace.runtime.preload import CachedImports, model_imports, top_level_imports
from tests.conftest import MakeTruss


def test_only_the_module_bodys_absolute_imports_count() -> None:
    source = textwrap.dedent(
        """\
        from __future__ import annotations
        import numpy as np, pandas.api
        from sklearn.linear_model import LinearRegression
        from . import sibling
        from .util import helper
        try:
            import ujson
        except ImportError:
            ujson = None
        if False:
            import never
        def load():
            import torch
        class Model:
            import transformers
        """
    )
    assert top_level_imports(source) == [
        "__future__",
        "numpy",
        "pandas.api",
        "sklearn.linear_model",
    ]
    assert top_level_imports("def broken(:\n") == []
    assert top_level_imports("x = '\0'") == []


def test_the_models_own_modules_the_standard_library_and_brace_are_left_out(
    make_truss: MakeTruss,
) -> None:
    truss = make_truss(
        "heavy",
        model=(
            "import os, json\nimport numpy\nfrom pandas import DataFrame\n"
            "import util\nimport model.util\nimport helpers.more\nimport shared\n"
            "import brace.runtime\nimport yaml\n"
        ),
        files={
            "model/util.py": "import requests\n",
            "model/helpers/__init__.py": "",
            "model/helpers/more.py": "import scipy.stats\n",
            "packages/shared/__init__.py": "import numpy\n",
        },
    )
    assert model_imports(truss) == ("numpy", "pandas", "requests", "scipy.stats", "yaml")


def test_a_directory_without_a_readable_config_preloads_nothing(tmp_path: Path) -> None:
    assert model_imports(tmp_path) == ()
    (tmp_path / "config.yaml").write_text("model_name: [unclosed\n")
    assert model_imports(tmp_path) == ()


def test_an_import_that_starts_a_native_thread_is_refused(tmp_path: Path) -> None:
    """A thread started outside Python (as a BLAS pool is) shows in /proc/self/task."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "nativethread.py").write_text(
        "import ctypes, ctypes.util, os\n"
        "libc = ctypes.CDLL(None)\n"
        "SLEEP = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda _: libc.pause())\n"
        "thread = ctypes.c_ulong()\n"
        "libc.pthread_create(ctypes.byref(thread), None, SLEEP, None)\n"
    )
    script = (
        "from brace.runtime.preload import preload, PreloadRefused\n"
        "try:\n"
        "    preload(['json', 'nativethread'])\n"
        "except PreloadRefused as refused:\n"
        "    print(refused.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(site)},
        check=True,
    )
    assert done.stdout.startswith("importing nativethread started 1 thread(s)")


def test_the_cache_reads_a_model_again_only_when_it_changed(make_truss: MakeTruss) -> None:
    truss = make_truss("heavy", model="import numpy\n")
    imports = CachedImports()
    assert imports(truss) == ("numpy",)
    model_file = truss / "model" / "model.py"
    model_file.write_text("import pandas\n")
    assert imports(truss) == ("pandas",)
    # A module of the model's own, added next to it, is no longer third-party.
    (truss / "model" / "pandas.py").write_text("")
    assert imports(truss) == ()
    (truss / "model" / "pandas.py").unlink()
    (truss / "config.yaml").write_text("model_name: heavy\nmodel_module_dir: src\n")
    (truss / "src").mkdir()
    (truss / "src" / "model.py").write_text("import scipy\n")
    assert imports(truss) == ("scipy",)
    # Unchanged stats: the answer is the one read before, without reading again.
    [(layout, signature, _)] = imports._cache.values()
    imports._cache[truss] = (layout, signature, ("remembered",))
    assert imports(truss) == ("remembered",)
