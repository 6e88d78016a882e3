"""Reading config.yaml and a requirements file safely (brace/config/reading.py).

docs/security.md, "Limits": bounded size, regular files only, UTF-8 text.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brace.config import CONFIG_LIMIT
from brace.errors import ConfigError, ExitCode
from tests.config import config_error, load
from tests.conftest import MakeTruss

# --- reading config.yaml safely (docs/security.md, "Limits") -------------------------


def test_config_yaml_at_the_size_limit_is_read(make_truss: MakeTruss) -> None:
    head = "model_name: big\nmodel_metadata:\n  blob: "
    config = head + "x" * (CONFIG_LIMIT - len(head) - 1) + "\n"
    assert len(config) == CONFIG_LIMIT
    truss = load(make_truss("big", config=config))
    assert len(truss.config.model_metadata["blob"]) == CONFIG_LIMIT - len(head) - 1


def test_config_yaml_over_the_size_limit_is_refused_before_parsing(
    make_truss: MakeTruss,
) -> None:
    """A 50 MB model_metadata froze the server while it was parsed; brace reads at
    most CONFIG_LIMIT bytes of config.yaml."""
    directory = make_truss("huge", config="model_name: huge\n")
    config = directory / "config.yaml"
    with open(config, "a") as file:
        file.write("model_metadata:\n  blob: ")
        file.truncate(50 * 1024 * 1024)
    error = config_error(directory)
    assert error.message == f"{config.resolve()}: 50 MiB, over brace's limit of 1 MiB for this file"
    assert error.hint == (
        "model_metadata is for small facts: put large data in a file under data/ and read "
        "it in load()."
    )
    assert error.exit_code == ExitCode.REFUSED


def test_config_yaml_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    directory = tmp_path / "fifo"
    directory.mkdir()
    os.mkfifo(directory / "config.yaml")
    error = config_error(directory)  # a blocking read would wait here for a writer
    assert error.message == (
        f"{directory.resolve() / 'config.yaml'}: a FIFO (named pipe), not a regular file"
    )


def test_config_yaml_that_is_not_text(make_truss: MakeTruss) -> None:
    directory = make_truss("binary")
    (directory / "config.yaml").write_bytes(b"model_name: \xff\xfe\n")
    error = config_error(directory)
    assert error.message == f"{directory.resolve() / 'config.yaml'}: not UTF-8 text (byte 12)"


def test_requirements_file_that_is_a_device_is_refused(make_truss: MakeTruss) -> None:
    directory = make_truss("dev", config="requirements_file: reqs.txt\n")
    (directory / "reqs.txt").symlink_to("/dev/zero")
    error = config_error(directory)
    assert "reqs.txt" in error.message


def test_requirements_file_over_the_size_limit_is_refused(make_truss: MakeTruss) -> None:
    directory = make_truss("reqs", config="requirements_file: reqs.txt\n")
    with open(directory / "reqs.txt", "w") as file:
        file.truncate(CONFIG_LIMIT + 1)
    truss = load(directory)
    with pytest.raises(ConfigError) as raised:
        truss.requirements()
    assert raised.value.message == (
        f"{directory.resolve() / 'reqs.txt'}: 1048577 bytes, over brace's limit of "
        "1048576 bytes for this file"
    )
