"""Every number a user can set, bounded: one table, read by every entry point.

The management API and the CLI check settings through `brace.store.settings`, the
store checks what it reads back through `brace.store.records`, and `brace server`'s
options through `check_number`; all of them read the ranges here, so a value is never
stored, used or printed before it was checked. Every range has an upper bound: an
integer of 4,000 digits is valid JSON and a valid Python int, and nothing that acts on
it (a loop that starts replicas, an SQLite column of 64 bits) can.

`max_replica` is bounded at `MAX_REPLICAS`: brace runs replicas as processes on one
machine, where even a thousand would exhaust it (Baseten's own limit is per
workspace and far lower by default). Floats must be finite: `NaN` compares false
with every bound, so a check written as `value < low` lets it through.
"""

from __future__ import annotations

import math

from brace.errors import InvalidError

MAX_REPLICAS = 1000
"""Most replicas a deployment may ask for (`min_replica`, `max_replica`)."""

Range = tuple[int, int]

AUTOSCALING_RANGES: dict[str, Range] = {
    "min_replica": (0, MAX_REPLICAS),
    "max_replica": (1, MAX_REPLICAS),
    # Windows and delays may be small so that tests and experiments run in seconds.
    "autoscaling_window": (1, 3600),
    "scale_down_delay": (0, 3600),
    "concurrency_target": (1, 1_000_000),
    "target_utilization_percentage": (1, 100),
}
ROLLING_RANGES: dict[str, Range] = {
    "max_surge_percent": (0, 50),
    "max_unavailable_percent": (0, 50),
    "stabilization_time_seconds": (0, 3600),
    "replica_overhead_percent": (0, 500),
}
ROLLBACK_RANGES: dict[str, Range] = {
    "max_error_rate_percent": (0, 100),
    "min_requests": (1, 1_000_000_000),
}
CONFIG_RANGES: dict[str, Range] = {
    # config.yaml's numbers (brace.config): Truss does not bound them; these are far
    # beyond any use on one machine.
    "runtime.predict_concurrency": (1, 10_000),
    "runtime.streaming_read_timeout": (1, 86_400),
    "resources.node_count": (1, 1000),
    "resources.accelerator": (1, 64),  # the count after the colon, as in "A10G:2"
}
FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "max_p99_latency_ratio": (1.0, 1000.0),
}


def allowed(name: str) -> str:
    """`name`'s range as help texts show it: `0-50`, `1-1000`."""
    for table in (AUTOSCALING_RANGES, ROLLING_RANGES, ROLLBACK_RANGES, FLOAT_RANGES):
        if name in table:
            low, high = table[name]
            return f"{low:g}-{high:g}"
    raise KeyError(name)


def check_int(name: str, value: object, low: int, high: int) -> int:
    """`value` if it is a whole number from `low` to `high`; InvalidError naming `name`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidError(f"{name} must be a whole number, got {shown(value)}")
    if not low <= value <= high:
        raise InvalidError(f"{name} must be {low} to {high}, got {shown(value)}")
    return value


def check_number(name: str, value: object, low: float, high: float) -> float:
    """`value` if it is a finite number from `low` to `high` (ints allowed);
    InvalidError naming `name` otherwise (NaN and the infinities included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidError(f"{name} must be a number, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidError(f"{name} must be a finite number, got {value}")
    if not low <= value <= high:
        raise InvalidError(f"{name} must be {low:g} to {high:g}, got {shown(value)}")
    return float(value)


def shown(value: object) -> str:
    """`value` as an error shows it: a huge integer by its size, not its 4,000 digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
