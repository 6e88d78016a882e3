"""The `ray` module, imported only when the ray backend runs."""

from __future__ import annotations

import sys

import pytest

from brace.errors import ServerError
from brace.server.backends.rayapi import ray_module


def test_ray_module_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without Ray
    with pytest.raises(ServerError) as raised:
        ray_module()
    assert raised.value.message == "the ray backend needs Ray"
    assert raised.value.hint == "Install it with `pip install 'brace[ray]'`."
