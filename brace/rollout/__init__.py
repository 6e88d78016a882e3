"""Rolling deployments: pure decisions.

`actions` says which rollout action is allowed when; `release` steps a non-rolling
promotion; `planner` lays out a rolling one as steps (ramp-up, and the ramp-down of a
graceful cancel); `driver` moves a rolling promotion through its steps, one decision
per controller tick; `rollback` says when automatic rollback fails it; `capacity`
sizes the replicas autoscaling adds during it; `view` words where it is for people.
Where it is (its progress) is stored with the promotion (`brace.store.progress`); the
controller carries the decisions out (`brace.server.control.rolling_promotions`).
"""
