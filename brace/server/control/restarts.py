"""What to do when a replica process ends unasked: restart it (after a backoff) or give up.

A pure decision over the deployment's exit history, so every case is a table test.

A replica that exits before it was ever ready is a failed start; `max_start_failures`
of them mark the deployment DEPLOY_FAILED (the model cannot load). One that exits after
it served is a crash; `max_crashes` within `crash_window` seconds mark it FAILED (a
crash loop). Otherwise the next start waits `backoff[n - 1]` seconds after the n-th
failure of the kind, the last value repeating, as Kubernetes' CrashLoopBackOff grows
its delay.
"""

from __future__ import annotations

from dataclasses import dataclass

from brace.store.statuses import DeploymentStatus


@dataclass(frozen=True)
class RestartPolicy:
    backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    """Seconds before the next start after the 1st, 2nd, ... failure."""
    max_start_failures: int = 3
    max_crashes: int = 5
    crash_window: float = 60.0
    """Seconds over which crashes are counted."""


@dataclass(frozen=True)
class ExitHistory:
    """A deployment revision's unasked exits so far."""

    start_failures: int = 0
    crashes: tuple[float, ...] = ()
    """Clock readings (seconds) of the crashes inside the window."""
    next_start: float = 0.0
    """No replica starts before this clock reading (seconds)."""


@dataclass(frozen=True)
class Restart:
    history: ExitHistory
    note: str
    """One line for the deployment's log."""


@dataclass(frozen=True)
class GiveUp:
    history: ExitHistory
    note: str
    status: DeploymentStatus
    """DEPLOY_FAILED (never started) or FAILED (crash loop)."""
    reason: str
    """For the deployment's status line and a failed promotion's error message."""


Verdict = Restart | GiveUp


def after_exit(
    policy: RestartPolicy,
    history: ExitHistory,
    *,
    replica_id: str,
    code: int,
    ever_ready: bool,
    now: float,
) -> Verdict:
    """The verdict on one unasked exit of a replica of the deployment's current revision.

    `code` is the process's exit status (negative: killed by that signal); `now` is the
    controller's clock reading in seconds.
    """
    if not ever_ready:
        failures = history.start_failures + 1
        updated = ExitHistory(failures, history.crashes, now + _delay(policy, failures))
        note = f"replica {replica_id} exited with code {code} before it was ready"
        if failures >= policy.max_start_failures:
            reason = f"the model failed to start {failures} times"
            return GiveUp(updated, note, DeploymentStatus.DEPLOY_FAILED, reason)
        return Restart(updated, note)
    crashes = (*(t for t in history.crashes if now - t < policy.crash_window), now)
    updated = ExitHistory(history.start_failures, crashes, now + _delay(policy, len(crashes)))
    note = f"replica {replica_id} exited with code {code}"
    if len(crashes) >= policy.max_crashes:
        reason = f"replicas crashed {len(crashes)} times in {policy.crash_window:.0f} s"
        return GiveUp(updated, note, DeploymentStatus.FAILED, reason)
    return Restart(updated, note)


def _delay(policy: RestartPolicy, failures: int) -> float:
    return policy.backoff[min(failures, len(policy.backoff)) - 1]
