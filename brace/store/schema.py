"""The SQLite schema and its migrations.

`PRAGMA user_version` holds the number of migrations applied. A migration is appended,
never edited: the list index + 1 is the version it produces. Settings are stored as
JSON text because they are read and written whole, in the API's own shape.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE models (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        next_deployment_number INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        is_development INTEGER NOT NULL,
        status TEXT NOT NULL,
        autoscaling TEXT NOT NULL,
        created_at TEXT NOT NULL,
        source_dir TEXT,
        snapshot TEXT,
        revision INTEGER NOT NULL DEFAULT 1,
        active_replica_count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (model_id, name)
    );
    CREATE UNIQUE INDEX one_development_per_model
        ON deployments (model_id) WHERE is_development = 1;
    CREATE TABLE environments (
        model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        autoscaling TEXT NOT NULL,
        promotion_settings TEXT NOT NULL,
        current_deployment_id TEXT REFERENCES deployments(id),
        PRIMARY KEY (model_id, name)
    );
    CREATE TABLE promotions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL,
        environment TEXT NOT NULL,
        candidate_id TEXT NOT NULL,
        previous_id TEXT,
        rolling INTEGER NOT NULL,
        status TEXT NOT NULL,
        percent_traffic INTEGER NOT NULL DEFAULT 0,
        settings TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        error_message TEXT,
        requested_action TEXT,
        FOREIGN KEY (model_id, environment)
            REFERENCES environments(model_id, name) ON DELETE CASCADE
    );
    CREATE INDEX promotions_by_environment ON promotions (model_id, environment, id);
    """,
    # Replica processes started by the server, so that a server started after a crash
    # (or `brace down`) can find and stop every one of them.
    """
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        deployment_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        process_started REAL NOT NULL,
        socket TEXT NOT NULL,
        started_at TEXT NOT NULL
    );
    """,
    # What the controller reports: the revision its ready replicas serve, the revision
    # it gave up on, the autoscaler's recommendation, and which replicas are ready; and
    # the lease by which `brace watch` keeps the development deployment awake.
    """
    ALTER TABLE deployments ADD COLUMN serving_revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deployments ADD COLUMN failed_revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deployments ADD COLUMN recommended_replicas INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deployments ADD COLUMN awake_until TEXT;
    ALTER TABLE replicas ADD COLUMN ready INTEGER NOT NULL DEFAULT 0;
    """,
    # Where a rolling promotion is in its plan (brace/rollout/driver.py), so a server
    # that restarts goes on from the same step.
    """
    ALTER TABLE promotions ADD COLUMN base_replicas INTEGER;
    ALTER TABLE promotions ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE promotions ADD COLUMN step_applied_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE promotions ADD COLUMN step_settled_at REAL;
    ALTER TABLE promotions ADD COLUMN ramp_down_at INTEGER;
    ALTER TABLE promotions ADD COLUMN extra_previous INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE promotions ADD COLUMN extra_candidate INTEGER NOT NULL DEFAULT 0;
    """,
    # Usage per deployment and UTC day (brace/store/usage.py): replica-seconds by the
    # resources the replicas asked for, and requests. Names are copied in and there is
    # no foreign key, so a deleted deployment's usage stays.
    """
    CREATE TABLE usage (
        day TEXT NOT NULL,
        deployment_id TEXT NOT NULL,
        resources TEXT NOT NULL,
        model_id TEXT NOT NULL,
        model_name TEXT NOT NULL,
        deployment_name TEXT NOT NULL,
        replica_seconds REAL NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, deployment_id, resources)
    );
    """,
    # The change log the server's controller follows (brace/server/control/mirror.py):
    # every write to a deployment, a model, an environment or a promotion, whoever makes
    # it (the CLI, the management API, the controller itself), appends the deployment's
    # or the model's id, in the same transaction. The controller reads the rows past the
    # last one it saw and rereads only what they name; it deletes the rows it has read.
    """
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL,
        deployment_id TEXT
    );
    CREATE TRIGGER deployment_inserted AFTER INSERT ON deployments BEGIN
        INSERT INTO changes (model_id, deployment_id) VALUES (NEW.model_id, NEW.id);
    END;
    CREATE TRIGGER deployment_updated AFTER UPDATE ON deployments BEGIN
        INSERT INTO changes (model_id, deployment_id) VALUES (NEW.model_id, NEW.id);
    END;
    CREATE TRIGGER deployment_deleted AFTER DELETE ON deployments BEGIN
        INSERT INTO changes (model_id, deployment_id) VALUES (OLD.model_id, OLD.id);
    END;
    CREATE TRIGGER model_inserted AFTER INSERT ON models BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER model_updated AFTER UPDATE ON models BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.id);
    END;
    CREATE TRIGGER model_deleted AFTER DELETE ON models BEGIN
        INSERT INTO changes (model_id) VALUES (OLD.id);
    END;
    CREATE TRIGGER environment_inserted AFTER INSERT ON environments BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.model_id);
    END;
    CREATE TRIGGER environment_updated AFTER UPDATE ON environments BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.model_id);
    END;
    CREATE TRIGGER environment_deleted AFTER DELETE ON environments BEGIN
        INSERT INTO changes (model_id) VALUES (OLD.model_id);
    END;
    CREATE TRIGGER promotion_inserted AFTER INSERT ON promotions BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.model_id);
    END;
    CREATE TRIGGER promotion_updated AFTER UPDATE ON promotions BEGIN
        INSERT INTO changes (model_id) VALUES (NEW.model_id);
    END;
    CREATE TRIGGER promotion_deleted AFTER DELETE ON promotions BEGIN
        INSERT INTO changes (model_id) VALUES (OLD.model_id);
    END;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
