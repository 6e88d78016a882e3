"""brace's state: one SQLite file, typed records, transactions.

Names are loaded on first use (PEP 562), so importing `brace.store.statuses` for an
enum does not open sqlite3 or build the record classes. Beside the records: `settings`
checks a settings change against `brace.ranges`, `stored` reads settings back with
those rules, and `progress` maps a rolling promotion's progress to its columns.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brace.store.db import Store as Store
    from brace.store.records import (
        DEVELOPMENT_AUTOSCALING as DEVELOPMENT_AUTOSCALING,
    )
    from brace.store.records import (
        AutoscalingSettings as AutoscalingSettings,
    )
    from brace.store.records import (
        Deployment as Deployment,
    )
    from brace.store.records import (
        Environment as Environment,
    )
    from brace.store.records import (
        Model as Model,
    )
    from brace.store.records import (
        Promotion as Promotion,
    )
    from brace.store.records import (
        PromotionSettings as PromotionSettings,
    )
    from brace.store.records import (
        ReplicaProcess as ReplicaProcess,
    )
    from brace.store.records import (
        RollingDeployConfig as RollingDeployConfig,
    )
    from brace.store.statuses import (
        CleanupStrategy as CleanupStrategy,
    )
    from brace.store.statuses import (
        DeploymentStatus as DeploymentStatus,
    )
    from brace.store.statuses import (
        PromotionStatus as PromotionStatus,
    )
    from brace.store.statuses import (
        RolloutAction as RolloutAction,
    )
    from brace.store.tx import Tx as Tx

_HOME = {
    "Store": "db",
    "Tx": "tx",
    "DEVELOPMENT_AUTOSCALING": "records",
    "AutoscalingSettings": "records",
    "Deployment": "records",
    "Environment": "records",
    "Model": "records",
    "Promotion": "records",
    "PromotionSettings": "records",
    "ReplicaProcess": "records",
    "RollingDeployConfig": "records",
    "CleanupStrategy": "statuses",
    "DeploymentStatus": "statuses",
    "PromotionStatus": "statuses",
    "RolloutAction": "statuses",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'brace.store' has no attribute {name!r}")
    return getattr(importlib.import_module(f"brace.store.{_HOME[name]}"), name)
