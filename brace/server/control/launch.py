"""A replica's launch: from a revision's model files, its Python, its settings and the
environment it serves, what the backend starts (`backends.base.Launch`), and the row
that records the started process in the store."""

from __future__ import annotations

import json
from pathlib import Path

from brace.server.backends import supervisor
from brace.server.backends.base import Launch, Remote
from brace.server.backends.placement import resource_request
from brace.server.control.replicas import Replica
from brace.server.control.runs import Runnable
from brace.store.records import Deployment, ReplicaProcess


def replica_launch(
    home: Path,
    socket: Path,
    log_file: Path,
    runnable: Runnable,
    environment: str | None,
    deployment: Deployment | None = None,
) -> Launch:
    """The launch of one replica of `runnable` listening on `socket`, writing to
    `log_file`, its model in `environment` (None: no environment). Its variables:
    the model's `environment_variables` and `secrets` (from `home`), and the
    environment's description. A published `deployment` (one with a snapshot) may run
    on another node (`Launch.remote`); a development deployment stays here, where its
    live reload patches the files."""
    config = runnable.truss.config
    remote = None
    if deployment is not None and deployment.snapshot is not None:
        remote = Remote(
            deployment_id=deployment.id,
            snapshot=deployment.snapshot,
            requirements=runnable.truss.requirements(),
            request=resource_request(config.resources),
            secrets=tuple(config.secrets),
        )
    return Launch(
        python=runnable.python,
        truss_dir=runnable.truss.path,
        socket=socket,
        log_file=log_file,
        env={
            **supervisor.replica_environment(home, config.environment_variables, config.secrets),
            supervisor.ENVIRONMENT_VARIABLE: json.dumps(supervisor.environment_json(environment)),
        },
        remote=remote,
    )


def replica_record(
    replica: Replica, started_at: str, pid: int, process_started: float
) -> ReplicaProcess:
    """The store's row for a started replica (a later server stops it after a crash):
    its process is `pid`, started at `process_started` (a fork's pid comes with the fork
    server's reply, after the launch: `backends.base.identified`)."""
    return ReplicaProcess(
        id=replica.id,
        deployment_id=replica.deployment_id,
        revision=replica.revision,
        pid=pid,
        process_started=process_started,
        socket=str(replica.socket),
        started_at=started_at,
    )
