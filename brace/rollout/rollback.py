"""Automatic rollback: whether a rolling promotion's candidate answers so badly that
the promotion fails now (brace's extension of promotion_settings, off by default). A
pure decision over the candidate's answers since its current step settled (`Health`,
counted by the controller from the gateway's request counters); the driver asks it
during each step's stabilization wait."""

from __future__ import annotations

from dataclasses import dataclass

from brace.store.records import AutomaticRollback


@dataclass(frozen=True)
class Health:
    """The candidate's answers since the current step settled (and the previous
    deployment's p99 over the same time), for automatic rollback."""

    requests: int
    errors: int
    """Answers with a 5xx status."""
    p99_seconds: float | None = None
    previous_p99_seconds: float | None = None


def rollback_reason(
    rule: AutomaticRollback, health: Health | None, percent: int, step_number: int
) -> str | None:
    """Why automatic rollback fails the promotion now, if it does: during a step's
    stabilization wait, once the candidate answered at least `min_requests` requests
    (brace's extension of promotion_settings, off by default)."""
    if not rule.enabled or health is None or percent == 0 or health.requests < rule.min_requests:
        return None
    rate = 100 * health.errors / health.requests
    if rate > rule.max_error_rate_percent:
        return (
            f"automatic rollback: {health.errors} of {health.requests} requests to the "
            f"candidate failed ({rate:.1f}% > {rule.max_error_rate_percent}%) at "
            f"{percent}% of the traffic, step {step_number}"
        )
    ratio = rule.max_p99_latency_ratio
    if (
        ratio is not None
        and health.p99_seconds is not None
        and health.previous_p99_seconds
        and health.p99_seconds > ratio * health.previous_p99_seconds
    ):
        return (
            f"automatic rollback: the candidate's p99 latency "
            f"{1000 * health.p99_seconds:.1f} ms is more than {ratio:g}x the previous "
            f"deployment's {1000 * health.previous_p99_seconds:.1f} ms "
            f"(over {health.requests} requests, step {step_number})"
        )
    return None
