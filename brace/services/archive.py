"""A deployment's Truss as Baseten hands it out: its config.yaml, and a tar archive.

What `GET .../config` and `GET .../download` serve (Truss's `truss model-config` and
`truss download` read them). A published deployment's source is its snapshot
(`<home>/snapshots/<hash>`), exactly as `brace push --publish` copied it; the
development deployment's is the live directory it runs from, read with the same rules
a snapshot is taken with (brace/services/modelfiles.py), because that is what its
replicas run.

The archive is a gzip'd tar whose root is the Truss directory: unpacked, it is a
directory `brace push` (and `truss push`) accept. A snapshot's own bookkeeping
(`brace-snapshot.json`) is left out; external package directories, which a snapshot
holds under `__external__/<n>`, are gathered into the bundled packages directory
(`packages/` unless config.yaml names another) with `external_package_dirs` removed
from the archive's config.yaml, as Truss gathers them before it uploads a Truss (a
file of the model's own wins over one of the same path from an external directory).
"""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from brace.config import CONFIG_FILE, SNAPSHOT_MANIFEST, load_truss
from brace.errors import ConfigError, RefusedError
from brace.files import open_regular, read_text_limited
from brace.services.modelfiles import model_files
from brace.services.snapshots import EXTERNAL, snapshot_path
from brace.store import Deployment

CONFIG_LIMIT = 1 << 20
"""Largest config.yaml served, in bytes (brace refuses larger ones at push)."""


@dataclass(frozen=True)
class Source:
    """Where a deployment's Truss is on disk, and whether it is a snapshot."""

    root: Path
    snapshot: bool


def source_of(home: Path, deployment: Deployment) -> Source:
    """The directory a deployment's Truss is in; RefusedError when it is gone (a
    development deployment whose directory was moved, a snapshot removed by hand)."""
    if deployment.snapshot is not None:
        root, snapshot = snapshot_path(home, deployment.snapshot), True
    elif deployment.source_dir is not None:
        root, snapshot = Path(deployment.source_dir), False
    else:  # a record without a source is not a deployment brace wrote
        raise RefusedError(f"deployment {deployment.id} has no files", code="NO_SOURCE")
    if not (root / CONFIG_FILE).is_file():
        raise RefusedError(
            f"deployment {deployment.name} ({deployment.id}): {root / CONFIG_FILE} is missing",
            "Push the model again." if not snapshot else "Publish the model again.",
            code="SOURCE_MISSING",
            facts={"path": str(root)},
        )
    return Source(root, snapshot)


def config_answer(source: Source) -> dict[str, Any]:
    """`{"config": the parsed mapping, "raw_config": the file's text}` (Baseten's
    answer, which `truss model-config` prints the raw text of)."""
    path = source.root / CONFIG_FILE
    try:
        raw = read_text_limited(path, CONFIG_LIMIT)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read it ({reason})") from None
    parsed = yaml.safe_load(raw) or {}
    return {"config": parsed if isinstance(parsed, dict) else {}, "raw_config": raw}


def archive_members(source: Source) -> tuple[list[tuple[str, str]], bytes | None]:
    """(path in the archive, file to read) for each file, and the config.yaml to write
    instead of the Truss's own (None: the file as it is)."""
    truss = load_truss(source.root, check_model=False)
    if not source.snapshot:
        files = [(f.relative, f.source) for f in model_files(source.root)]
        return files, None
    own: list[tuple[str, str]] = []
    external: list[tuple[str, str]] = []
    for file in model_files(source.root):
        if file.relative == SNAPSHOT_MANIFEST:
            continue
        (external if file.relative.startswith(EXTERNAL + "/") else own).append(
            (file.relative, file.source)
        )
    if not truss.config.external_package_dirs:
        return own, None
    packages = truss.config.bundled_packages_dir.rstrip("/")
    taken = {name for name, _ in own}
    for name, real in external:
        # __external__/<n>/<path> -> <packages>/<path>
        inner = name.split("/", 2)[2] if name.count("/") >= 2 else ""
        target = f"{packages}/{inner}"
        if inner and target not in taken:
            own.append((target, real))
            taken.add(target)
    raw = yaml.safe_load((source.root / CONFIG_FILE).read_text()) or {}
    raw.pop("external_package_dirs", None)
    return own, yaml.safe_dump(raw, sort_keys=False).encode()


def write_archive(source: Source, out: IO[bytes]) -> None:
    """Write the Truss of `source` to `out` as a gzip'd tar (see the module's text)."""
    files, config = archive_members(source)
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, real in files:
            with os.fdopen(open_regular(real), "rb") as file:
                facts = os.fstat(file.fileno())
                info = tarfile.TarInfo(name)
                info.mode = facts.st_mode & 0o755 | 0o600
                info.mtime = int(facts.st_mtime)
                if config is not None and name == CONFIG_FILE:
                    info.size = len(config)
                    tar.addfile(info, io.BytesIO(config))
                else:
                    info.size = facts.st_size
                    tar.addfile(info, file)
