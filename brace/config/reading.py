"""Reading the files of a Truss that brace parses: bounded, regular, UTF-8, YAML.

The limit (`CONFIG_LIMIT`) and the errors that name the file come from here, for
`config.yaml` and a requirements file alike; `fields` checks what the YAML says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from brace.errors import ConfigError
from brace.files import FileTooLarge, SpecialFileError, describe_sizes, read_text_limited

# The largest config.yaml (and requirements file) brace reads, in bytes. PyYAML's
# parser needs about 1.3 s per MiB on a small machine, and model_metadata is meant for
# small facts (example inputs, tags); data belongs in data/. See docs/security.md.
CONFIG_LIMIT = 1024 * 1024


def read_text(path: Path, *, missing_ok: bool = False, large_hint: str | None = None) -> str:
    """The text of a file brace parses: regular, UTF-8, at most CONFIG_LIMIT bytes.

    With `missing_ok`, a file that is gone raises FileNotFoundError (a caller that
    checked it moments ago treats that as a change on disk); any other failure is a
    ConfigError naming the file.
    """
    try:
        return read_text_limited(path, CONFIG_LIMIT)
    except FileTooLarge as error:
        size, limit = describe_sizes(error.size, CONFIG_LIMIT)
        raise ConfigError(
            f"{path}: {size}, over brace's limit of {limit} for this file",
            large_hint,
        ) from None
    except SpecialFileError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except FileNotFoundError:
        if missing_ok:
            raise
        raise ConfigError(f"{path}: file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None


def read_yaml(config_path: Path) -> dict[str, Any]:
    text = read_text(
        config_path,
        large_hint="model_metadata is for small facts: put large data in a file under "
        "data/ and read it in load().",
    )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{config_path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{config_path}: expected a mapping of fields at the top level, got {described(data)}"
        )
    return data


def described(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return f"{name} ({value!r})" if kind in (str, bool) else name
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} ({value!r})"
