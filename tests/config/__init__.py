"""Tests of brace/config/, and the helpers they share: load a Truss without probing
for a GPU, and the ConfigError a Truss raises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from brace.config import Truss, load_truss
from brace.errors import ConfigError

RUNNING = f"py{sys.version_info.major}{sys.version_info.minor}"
OTHER = "py310" if RUNNING != "py310" else "py311"


def no_gpu() -> bool:
    return False


def load(directory: Path, *, check_model: bool = True) -> Truss:
    return load_truss(directory, check_model=check_model, gpu_available=no_gpu)


def config_error(directory: Path, *, check_model: bool = True) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load(directory, check_model=check_model)
    return raised.value
