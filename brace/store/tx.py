"""`Tx`: the queries and writes of one transaction, by record kind.

`Store.transaction()` and `Store.read()` (db.py) hand one out; it takes and returns
the frozen records of records.py, converted by rows.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from brace.store.records import Deployment, Environment, Model, Promotion, ReplicaProcess
from brace.store.rows import (
    columns,
    deployment_from,
    environment_from,
    model_from,
    promotion_from,
    to_sql,
)
from brace.store.stamps import new_id, stamp

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
        values = tuple(to_sql(value) for value in changes.values())
        self.conn.execute(f"UPDATE {table} SET {assignments} WHERE {where}", values + key)

    # models

    def insert_model(self, name: str) -> Model:
        model = Model(id=new_id(), name=name, created_at=self.now())
        self._insert("models", columns(model))
        return model

    def model(self, model_id: str) -> Model | None:
        row = self.conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        return model_from(row) if row else None

    def model_by_name(self, name: str) -> Model | None:
        row = self.conn.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        return model_from(row) if row else None

    def models(self) -> list[Model]:
        rows = self.conn.execute("SELECT * FROM models ORDER BY created_at, name")
        return [model_from(row) for row in rows]

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
        self._insert("deployments", columns(deployment))
        return deployment

    def deployment(self, deployment_id: str) -> Deployment | None:
        row = self.conn.execute(
            "SELECT * FROM deployments WHERE id = ?", (deployment_id,)
        ).fetchone()
        return deployment_from(row) if row else None

    def deployments(self, model_id: str | None = None) -> list[Deployment]:
        if model_id is None:
            rows = self.conn.execute("SELECT * FROM deployments ORDER BY created_at, rowid")
        else:
            rows = self.conn.execute(
                "SELECT * FROM deployments WHERE model_id = ? ORDER BY created_at, rowid",
                (model_id,),
            )
        return [deployment_from(row) for row in rows]

    def deployment_counts(self) -> dict[str, tuple[int, str | None]]:
        """Model id -> (its deployments, its development deployment's id or None), for
        every model with a deployment (one query)."""
        rows = self.conn.execute(
            "SELECT model_id, COUNT(*), MAX(CASE WHEN is_development = 1 THEN id END) "
            "FROM deployments GROUP BY model_id"
        )
        return {row[0]: (int(row[1]), row[2]) for row in rows}

    def deployments_named(self, name: str) -> list[Deployment]:
        rows = self.conn.execute("SELECT * FROM deployments WHERE name = ?", (name,))
        return [deployment_from(row) for row in rows]

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
        self._insert("environments", columns(environment))
        return environment

    def environment(self, model_id: str, name: str) -> Environment | None:
        row = self.conn.execute(
            "SELECT * FROM environments WHERE model_id = ? AND name = ?", (model_id, name)
        ).fetchone()
        return environment_from(row) if row else None

    def all_environments(self) -> list[Environment]:
        """Every model's environments, each model's production first (one query)."""
        rows = self.conn.execute(
            "SELECT * FROM environments ORDER BY model_id, name != 'production', created_at, name"
        )
        return [environment_from(row) for row in rows]

    def environments(self, model_id: str) -> list[Environment]:
        rows = self.conn.execute(
            "SELECT * FROM environments WHERE model_id = ? "
            "ORDER BY name != 'production', created_at, name",
            (model_id,),
        )
        return [environment_from(row) for row in rows]

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
        cursor = self._insert("promotions", {k: to_sql(v) for k, v in columns.items()})
        promotion = self.promotion(int(cursor.lastrowid or 0))
        assert promotion is not None
        return promotion

    def promotion(self, promotion_id: int) -> Promotion | None:
        row = self.conn.execute("SELECT * FROM promotions WHERE id = ?", (promotion_id,)).fetchone()
        return promotion_from(row) if row else None

    def latest_promotion(self, model_id: str, environment: str) -> Promotion | None:
        row = self.conn.execute(
            "SELECT * FROM promotions WHERE model_id = ? AND environment = ? "
            "ORDER BY id DESC LIMIT 1",
            (model_id, environment),
        ).fetchone()
        return promotion_from(row) if row else None

    def active_promotions(self, model_id: str | None = None) -> list[Promotion]:
        query = f"SELECT * FROM promotions WHERE {_ACTIVE_PROMOTION}"
        args: tuple[str, ...] = ()
        if model_id is not None:
            query += " AND model_id = ?"
            args = (model_id,)
        return [promotion_from(row) for row in self.conn.execute(query + " ORDER BY id", args)]

    def update_promotion(self, promotion: Promotion, **changes: Any) -> Promotion:
        changes["updated_at"] = self.now()
        self._update("promotions", "id = ?", (promotion.id,), **changes)
        return replace(promotion, **changes)

    # replica processes

    def insert_replica(self, replica: ReplicaProcess) -> ReplicaProcess:
        self._insert("replicas", columns(replica))
        return replica

    def replicas(self) -> list[ReplicaProcess]:
        rows = self.conn.execute("SELECT * FROM replicas ORDER BY started_at")
        return [ReplicaProcess(**{**dict(row), "ready": bool(row["ready"])}) for row in rows]

    def mark_replica_ready(self, replica_id: str) -> None:
        self.conn.execute("UPDATE replicas SET ready = 1 WHERE id = ?", (replica_id,))

    def delete_replica(self, replica_id: str) -> None:
        self.conn.execute("DELETE FROM replicas WHERE id = ?", (replica_id,))

    # the change log (schema.py: written by triggers)

    def last_change(self) -> int:
        """The newest change's number (0: none yet)."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        found = row.fetchone()
        return int(found[0]) if found else 0

    def changes_since(self, seq: int) -> list[Change]:
        """The changes after number `seq`, oldest first."""
        rows = self.conn.execute(
            "SELECT seq, model_id, deployment_id FROM changes WHERE seq > ? ORDER BY seq", (seq,)
        )
        return [Change(row[0], row[1], row[2]) for row in rows]

    def forget_changes(self, through: int) -> None:
        """Delete the changes up to number `through` (read by the server already)."""
        self.conn.execute("DELETE FROM changes WHERE seq <= ?", (through,))


@dataclass(frozen=True)
class Change:
    """One write to the desired state: to a deployment (`deployment_id`), or to a
    model, its environments or its promotions (`deployment_id` None)."""

    seq: int
    model_id: str
    deployment_id: str | None
