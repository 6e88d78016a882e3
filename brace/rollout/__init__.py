"""Rolling deployments: pure decisions, and (later) the driver that carries them out.

`actions` says which rollout action is allowed when; `release` steps a non-rolling
promotion; `planner` lays out a rolling one as steps (ramp-up, and the ramp-down of a
graceful cancel); `capacity` sizes the replicas autoscaling adds during it.
"""
