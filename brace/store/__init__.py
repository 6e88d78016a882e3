"""brace's state: one SQLite file, typed records, transactions."""

from brace.store.db import Store, Tx
from brace.store.records import (
    DEVELOPMENT_AUTOSCALING,
    AutoscalingSettings,
    CleanupStrategy,
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    PromotionSettings,
    PromotionStatus,
    RollingDeployConfig,
    RolloutAction,
)

__all__ = [
    "DEVELOPMENT_AUTOSCALING",
    "AutoscalingSettings",
    "CleanupStrategy",
    "Deployment",
    "DeploymentStatus",
    "Environment",
    "Model",
    "Promotion",
    "PromotionSettings",
    "PromotionStatus",
    "RollingDeployConfig",
    "RolloutAction",
    "Store",
    "Tx",
]
