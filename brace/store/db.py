"""The state store: one SQLite file in the brace home, shared by the CLI and the server.

Every mutation runs in `Store.transaction()`, which takes SQLite's write lock up front
(`BEGIN IMMEDIATE`), so two brace processes never interleave a read-modify-write and
never see a half-applied change. WAL lets readers proceed while one process writes; the
busy timeout makes writers queue instead of failing. The file survives `kill -9` of any
process: an interrupted transaction is simply not there when the file is next opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from brace.errors import BraceError, StateError
from brace.home import ensure_private_dir
from brace.polling import poll
from brace.store.integrity import (
    check_file,
    check_schema,
    create_state_file,
    environment_error,
)
from brace.store.records import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    PromotionSettings,
    PromotionStatus,
    ReplicaProcess,
    RolloutAction,
)
from brace.store.schema import MIGRATIONS, SCHEMA_VERSION
from brace.store.stored import read_autoscaling, read_promotion_settings

DB_FILE = "brace.db"
BUSY_TIMEOUT_MS = 30_000
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A UTC time as stored: ISO 8601 with microseconds and Z, so strings sort in time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A short random id like Baseten's (8 lowercase letters and digits)."""
    import secrets  # here: it loads OpenSSL's hashes, which reading the store never needs

    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class Store:
    """The open state file. One per process (or per thread); cheap to create.

    Opening never creates an incomplete file and never reuses a damaged one
    (integrity.py); SQLite errors caused by the disk or the file (full, damaged,
    read-only) come out of every method as one-line `StateError`s naming the file.
    """

    def __init__(self, home: Path, clock: Callable[[], datetime] = utc_now) -> None:
        try:
            self.home = ensure_private_dir(home)
        except OSError as error:
            raise StateError(
                f"{home}: cannot use it as the brace home ({error.strerror})",
                "Point BRACE_HOME at a directory you own.",
            ) from None
        self.path = home / DB_FILE
        self.clock = clock
        try:
            if not os.path.lexists(self.path):
                create_state_file(self.path, _initialize)
            check_file(self.path)
            if os.stat(self.path).st_mode & 0o077:
                os.chmod(self.path, 0o600)
        except OSError as error:
            raise StateError(
                f"{self.path}: cannot open the state file ({error.strerror})",
                "Check that the brace home and the files in it belong to you.",
            ) from None
        except sqlite3.Error as error:
            raise self._translated(error) from None
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as error:
            raise self._translated(error) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            check_schema(self.path, self._conn)  # before anything writes to the file
            self._use_wal()
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as error:
            self._conn.close()
            raise self._translated(error) from None
        except BaseException:
            self._conn.close()
            raise

    def _translated(self, error: sqlite3.Error) -> BaseException:
        """`error` as a one-line StateError when the disk or the file caused it."""
        return environment_error(self.path, error) or error

    def _use_wal(self) -> None:
        """Switch a file made by an older brace to WAL, waiting for other processes that
        are doing the same (a new file is made in WAL mode, integrity.py).

        The switch needs an exclusive lock, and SQLite does not call the busy handler
        for it (two connections could deadlock), so "database is locked" is retried
        here for as long as the busy timeout would have waited.
        """

        def switch() -> bool | None:
            try:
                if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                return None
            return True

        if poll(switch, BUSY_TIMEOUT_MS / 1000, 0.005) is None:
            raise sqlite3.OperationalError("database is locked")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise BraceError(
                f"{self.path} was written by a newer brace (schema {version}, "
                f"this brace knows {SCHEMA_VERSION})",
                "Upgrade brace, or point BRACE_HOME at another directory.",
            )
        with self.transaction() as tx:
            _apply_migrations(tx.conn)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: holds the write lock from the first statement."""
        with self._translating():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn, self.clock)
            except BaseException:
                self._rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction: a consistent snapshot while it lasts."""
        with self._translating():
            self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn, self.clock)
            finally:
                self._rollback()

    def _rollback(self) -> None:
        # After a full disk or an I/O error SQLite may already have rolled back.
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    @contextmanager
    def _translating(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            translated = environment_error(self.path, error)
            if translated is None:
                raise
            raise translated from None


def _apply_migrations(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION (inside the caller's write transaction)."""
    # Another process may have migrated while we waited for the lock.
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")


def _initialize(conn: sqlite3.Connection) -> None:
    """Write the whole schema into a new, private file (integrity.create_state_file)."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    _apply_migrations(conn)
    conn.execute("COMMIT")


def _to_sql(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (AutoscalingSettings, PromotionSettings)):
        return json.dumps(value.to_json())
    return value


def _columns(record: object) -> dict[str, object]:
    return {
        f.name: _to_sql(getattr(record, f.name))
        for f in fields(record)  # type: ignore[arg-type]
        if f.metadata.get("stored", True)
    }


def _model(row: sqlite3.Row) -> Model:
    return Model(id=row["id"], name=row["name"], created_at=row["created_at"])


def _deployment(row: sqlite3.Row) -> Deployment:
    development = bool(row["is_development"])
    autoscaling, error = read_autoscaling(row["autoscaling"], development=development)
    return Deployment(
        id=row["id"],
        model_id=row["model_id"],
        name=row["name"],
        is_development=development,
        status=DeploymentStatus(row["status"]),
        autoscaling=autoscaling,
        created_at=row["created_at"],
        source_dir=row["source_dir"],
        snapshot=row["snapshot"],
        revision=row["revision"],
        active_replica_count=row["active_replica_count"],
        serving_revision=row["serving_revision"],
        failed_revision=row["failed_revision"],
        recommended_replicas=row["recommended_replicas"],
        awake_until=row["awake_until"],
        settings_error=error,
    )


def _environment(row: sqlite3.Row) -> Environment:
    autoscaling, autoscaling_error = read_autoscaling(row["autoscaling"])
    promotion_settings, promotion_error = read_promotion_settings(row["promotion_settings"])
    return Environment(
        model_id=row["model_id"],
        name=row["name"],
        created_at=row["created_at"],
        autoscaling=autoscaling,
        promotion_settings=promotion_settings,
        current_deployment_id=row["current_deployment_id"],
        settings_error="; ".join(e for e in (autoscaling_error, promotion_error) if e) or None,
    )


def _promotion(row: sqlite3.Row) -> Promotion:
    action = row["requested_action"]
    return Promotion(
        id=row["id"],
        model_id=row["model_id"],
        environment=row["environment"],
        candidate_id=row["candidate_id"],
        previous_id=row["previous_id"],
        rolling=bool(row["rolling"]),
        status=PromotionStatus(row["status"]),
        percent_traffic=row["percent_traffic"],
        settings=read_promotion_settings(row["settings"])[0],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        error_message=row["error_message"],
        requested_action=RolloutAction(action) if action else None,
        base_replicas=row["base_replicas"],
        step=row["step"],
        step_applied_at=row["step_applied_at"],
        step_settled_at=row["step_settled_at"],
        ramp_down_at=row["ramp_down_at"],
        extra_previous=row["extra_previous"],
        extra_candidate=row["extra_candidate"],
    )


_ACTIVE_PROMOTION = "status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELED')"


@dataclass
class Tx:
    """Queries and writes inside one transaction; returns and takes records."""

    conn: sqlite3.Connection
    clock: Callable[[], datetime]

    def now(self) -> str:
        return stamp(self.clock())

    def _insert(self, table: str, values: dict[str, object]) -> sqlite3.Cursor:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        return self.conn.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values())
        )

    def _update(self, table: str, where: str, key: tuple[object, ...], **changes: Any) -> None:
        if not changes:
            return
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = tuple(_to_sql(value) for value in changes.values())
        self.conn.execute(f"UPDATE {table} SET {assignments} WHERE {where}", values + key)

    # models

    def insert_model(self, name: str) -> Model:
        model = Model(id=new_id(), name=name, created_at=self.now())
        self._insert("models", _columns(model))
        return model

    def model(self, model_id: str) -> Model | None:
        row = self.conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        return _model(row) if row else None

    def model_by_name(self, name: str) -> Model | None:
        row = self.conn.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        return _model(row) if row else None

    def models(self) -> list[Model]:
        rows = self.conn.execute("SELECT * FROM models ORDER BY created_at, name")
        return [_model(row) for row in rows]

    def next_deployment_number(self, model_id: str) -> int:
        row = self.conn.execute(
            "UPDATE models SET next_deployment_number = next_deployment_number + 1 "
            "WHERE id = ? RETURNING next_deployment_number - 1",
            (model_id,),
        ).fetchone()
        return int(row[0])

    def delete_model(self, model_id: str) -> None:
        self.conn.execute(
            "UPDATE environments SET current_deployment_id = NULL WHERE model_id = ?", (model_id,)
        )
        self.conn.execute("DELETE FROM models WHERE id = ?", (model_id,))

    # deployments

    def insert_deployment(self, deployment: Deployment) -> Deployment:
        self._insert("deployments", _columns(deployment))
        return deployment

    def deployment(self, deployment_id: str) -> Deployment | None:
        row = self.conn.execute(
            "SELECT * FROM deployments WHERE id = ?", (deployment_id,)
        ).fetchone()
        return _deployment(row) if row else None

    def deployments(self, model_id: str | None = None) -> list[Deployment]:
        if model_id is None:
            rows = self.conn.execute("SELECT * FROM deployments ORDER BY created_at, rowid")
        else:
            rows = self.conn.execute(
                "SELECT * FROM deployments WHERE model_id = ? ORDER BY created_at, rowid",
                (model_id,),
            )
        return [_deployment(row) for row in rows]

    def deployments_named(self, name: str) -> list[Deployment]:
        rows = self.conn.execute("SELECT * FROM deployments WHERE name = ?", (name,))
        return [_deployment(row) for row in rows]

    def update_deployment(self, deployment: Deployment, **changes: Any) -> Deployment:
        self._update("deployments", "id = ?", (deployment.id,), **changes)
        if "autoscaling" in changes:  # checked settings replace the ones that were not
            changes["settings_error"] = None
        return replace(deployment, **changes)

    def keep_awake(self, deployment_id: str, seconds: float) -> None:
        """Keep the deployment awake (no scale to zero) for `seconds` from now."""
        until = stamp(self.clock() + timedelta(seconds=seconds))
        self.conn.execute(
            "UPDATE deployments SET awake_until = ? WHERE id = ?", (until, deployment_id)
        )

    def delete_deployment(self, deployment_id: str) -> None:
        self.conn.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))

    def snapshots_in_use(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT snapshot FROM deployments WHERE snapshot IS NOT NULL"
        )
        return {row[0] for row in rows}

    # environments

    def insert_environment(self, environment: Environment) -> Environment:
        self._insert("environments", _columns(environment))
        return environment

    def environment(self, model_id: str, name: str) -> Environment | None:
        row = self.conn.execute(
            "SELECT * FROM environments WHERE model_id = ? AND name = ?", (model_id, name)
        ).fetchone()
        return _environment(row) if row else None

    def environments(self, model_id: str) -> list[Environment]:
        rows = self.conn.execute(
            "SELECT * FROM environments WHERE model_id = ? "
            "ORDER BY name != 'production', created_at, name",
            (model_id,),
        )
        return [_environment(row) for row in rows]

    def update_environment(self, environment: Environment, **changes: Any) -> Environment:
        self._update(
            "environments",
            "model_id = ? AND name = ?",
            (environment.model_id, environment.name),
            **changes,
        )
        if "autoscaling" in changes and "promotion_settings" in changes:
            changes["settings_error"] = None  # both rewritten, both checked
        return replace(environment, **changes)

    def delete_environment(self, environment: Environment) -> None:
        self.conn.execute(
            "DELETE FROM environments WHERE model_id = ? AND name = ?",
            (environment.model_id, environment.name),
        )

    # promotions

    def insert_promotion(self, **values: Any) -> Promotion:
        now = self.now()
        columns = {"created_at": now, "updated_at": now, **values}
        cursor = self._insert("promotions", {k: _to_sql(v) for k, v in columns.items()})
        promotion = self.promotion(int(cursor.lastrowid or 0))
        assert promotion is not None
        return promotion

    def promotion(self, promotion_id: int) -> Promotion | None:
        row = self.conn.execute("SELECT * FROM promotions WHERE id = ?", (promotion_id,)).fetchone()
        return _promotion(row) if row else None

    def latest_promotion(self, model_id: str, environment: str) -> Promotion | None:
        row = self.conn.execute(
            "SELECT * FROM promotions WHERE model_id = ? AND environment = ? "
            "ORDER BY id DESC LIMIT 1",
            (model_id, environment),
        ).fetchone()
        return _promotion(row) if row else None

    def active_promotions(self, model_id: str | None = None) -> list[Promotion]:
        query = f"SELECT * FROM promotions WHERE {_ACTIVE_PROMOTION}"
        args: tuple[str, ...] = ()
        if model_id is not None:
            query += " AND model_id = ?"
            args = (model_id,)
        return [_promotion(row) for row in self.conn.execute(query + " ORDER BY id", args)]

    def update_promotion(self, promotion: Promotion, **changes: Any) -> Promotion:
        changes["updated_at"] = self.now()
        self._update("promotions", "id = ?", (promotion.id,), **changes)
        return replace(promotion, **changes)

    # replica processes

    def insert_replica(self, replica: ReplicaProcess) -> ReplicaProcess:
        self._insert("replicas", _columns(replica))
        return replica

    def replicas(self) -> list[ReplicaProcess]:
        rows = self.conn.execute("SELECT * FROM replicas ORDER BY started_at")
        return [ReplicaProcess(**{**dict(row), "ready": bool(row["ready"])}) for row in rows]

    def mark_replica_ready(self, replica_id: str) -> None:
        self.conn.execute("UPDATE replicas SET ready = 1 WHERE id = ?", (replica_id,))

    def delete_replica(self, replica_id: str) -> None:
        self.conn.execute("DELETE FROM replicas WHERE id = ?", (replica_id,))
