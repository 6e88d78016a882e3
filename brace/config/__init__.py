"""Loading and validating a Truss-format model directory.

A Truss is a directory with `config.yaml`, the model class in `model/model.py` and
optionally `packages/` and `data/`. `load_truss` reads it into a frozen `TrussConfig`
and a list of `Notice`s (unknown keys, fields that cannot apply on this machine).
Every error names the file, the field and what is allowed, so a user can fix the
config without reading brace's code. Nothing here imports the user's model: the model
file is only parsed, so a push never runs user code.

  reading   the files brace parses: bounded in size, regular, UTF-8, YAML
  records   Truss, TrussConfig, Resources, Runtime, Notice, and their defaults
  fields    config.yaml's fields, one at a time, into a TrussConfig
  loading   load_truss: the directory, its config, its notices and its files
"""

from brace.config.fields import ACCELERATORS, PYTHON_VERSIONS
from brace.config.loading import find_model_class, folder_model_name, gpu_present, load_truss
from brace.config.reading import CONFIG_LIMIT
from brace.config.records import (
    CONFIG_FILE,
    FIRST_BYTE_TIMEOUT,
    MAX_FIRST_BYTE_TIMEOUT,
    SNAPSHOT_MANIFEST,
    Notice,
    Resources,
    Runtime,
    Truss,
    TrussConfig,
)

__all__ = [
    "ACCELERATORS",
    "CONFIG_FILE",
    "CONFIG_LIMIT",
    "FIRST_BYTE_TIMEOUT",
    "MAX_FIRST_BYTE_TIMEOUT",
    "PYTHON_VERSIONS",
    "SNAPSHOT_MANIFEST",
    "Notice",
    "Resources",
    "Runtime",
    "Truss",
    "TrussConfig",
    "find_model_class",
    "folder_model_name",
    "gpu_present",
    "load_truss",
]
