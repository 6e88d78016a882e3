"""The store's desired state as the controller keeps it between ticks, kept current by
the store's change log: a tick rereads only the rows a change names.

Every write to a deployment, a model, an environment or a promotion appends a row to
the store's `changes` table in the same transaction (SQLite triggers, store/schema.py),
whoever writes: the CLI, the management API, the controller. A tick reads the changes
past the last one it saw and the rows they name in one read transaction, so a change
is never seen before the state it announces, nor that state without its change
(`Delta.reader`). A full read (`Snapshot.read`) replaces everything: the first tick's,
and the controller's periodic resync, the safety net for anything a change could miss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from brace.server.control.desired import Desired
from brace.store import Deployment, Environment, Model, Promotion, Tx


@dataclass(frozen=True)
class ModelRows:
    """One model's row with its environments (production first) and its promotions in
    progress."""

    model: Model
    environments: tuple[Environment, ...]
    promotions: tuple[Promotion, ...]


@dataclass(frozen=True)
class Delta:
    """What changed after change number `since`, up to number `seq`: each deployment
    and model named, as it is now (None: deleted)."""

    since: int
    seq: int
    deployments: Mapping[str, Deployment | None]
    models: Mapping[str, ModelRows | None]

    def __bool__(self) -> bool:
        return bool(self.deployments or self.models)

    @staticmethod
    def reader(since: int) -> Callable[[Tx], Delta]:
        """The query for the changes after number `since` and the rows they name."""

        def read(tx: Tx) -> Delta:
            changes = tx.changes_since(since)
            if not changes:
                return Delta(since, since, {}, {})
            deployment_ids = {c.deployment_id for c in changes if c.deployment_id is not None}
            model_ids = {c.model_id for c in changes if c.deployment_id is None}
            return Delta(
                since,
                changes[-1].seq,
                {i: tx.deployment(i) for i in sorted(deployment_ids)},
                {i: model_rows(tx, i) for i in sorted(model_ids)},
            )

        return read


def model_rows(tx: Tx, model_id: str) -> ModelRows | None:
    model = tx.model(model_id)
    if model is None:
        return None
    return ModelRows(model, tuple(tx.environments(model_id)), tuple(tx.active_promotions(model_id)))


@dataclass(frozen=True)
class Snapshot:
    """A full read: the desired state and the newest change number, in one snapshot."""

    desired: Desired
    seq: int

    @classmethod
    def read(cls, tx: Tx) -> Snapshot:
        return cls(Desired.read(tx), tx.last_change())


class Mirror:
    """The desired state: every model, deployment, environment and promotion in
    progress, by id, as of change number `seq`."""

    def __init__(self) -> None:
        self.seq = 0
        self.loaded = False
        """Whether a full read filled it: before that it knows nothing, not "no models"."""
        self.models: dict[str, Model] = {}
        self.deployments: dict[str, Deployment] = {}
        """By id, in the store's order (oldest first) and new ones after."""
        self.environments: dict[str, tuple[Environment, ...]] = {}
        """Model id -> its environments, production first."""
        self.promotions: dict[str, tuple[Promotion, ...]] = {}
        """Model id -> its promotions in progress (only models that have one)."""
        self._of_model: dict[str, set[str]] = {}

    def reset(self, snapshot: Snapshot) -> set[str]:
        """Replace everything with a full read; the ids of the deployments whose rows
        differ from what was known (a change whose signal was lost), or whose model's
        row, environments or promotions do, or that came or went."""
        desired = snapshot.desired
        before = (self.models, self.deployments, self.environments, self.promotions)
        self.loaded = True
        self.seq = max(self.seq, snapshot.seq)
        self.models = {m.id: m for m in desired.models}
        self.deployments = {d.id: d for d in desired.deployments}
        self._of_model = {}
        for deployment in desired.deployments:
            self._of_model.setdefault(deployment.model_id, set()).add(deployment.id)
        environments: dict[str, list[Environment]] = {}
        for environment in desired.environments:
            environments.setdefault(environment.model_id, []).append(environment)
        self.environments = {k: tuple(v) for k, v in environments.items()}
        promotions: dict[str, list[Promotion]] = {}
        for promotion in desired.promotions:
            promotions.setdefault(promotion.model_id, []).append(promotion)
        self.promotions = {k: tuple(v) for k, v in promotions.items()}
        models, deployments, environments_before, promotions_before = before
        touched = {i for i in deployments.keys() - self.deployments.keys()}
        touched |= {i for i, d in self.deployments.items() if deployments.get(i) != d}
        for model_id in models.keys() | self.models.keys():
            if (
                models.get(model_id) != self.models.get(model_id)
                or environments_before.get(model_id) != self.environments.get(model_id)
                or promotions_before.get(model_id) != self.promotions.get(model_id)
            ):
                touched |= self._of_model.get(model_id, set())
        return touched

    def apply(self, delta: Delta) -> set[str]:
        """Take in what changed; the ids of the deployments it concerns: the changed
        and deleted ones, and every deployment of a model whose row, environments or
        promotions changed."""
        touched: set[str] = set()
        for deployment_id, deployment in delta.deployments.items():
            touched.add(deployment_id)
            old = self.deployments.pop(deployment_id, None)
            if old is not None:
                self._of_model.get(old.model_id, set()).discard(deployment_id)
            if deployment is not None:
                self.deployments[deployment_id] = deployment
                self._of_model.setdefault(deployment.model_id, set()).add(deployment_id)
        for model_id, rows in delta.models.items():
            touched |= self._of_model.get(model_id, set())
            if rows is None:
                self.models.pop(model_id, None)
                self.environments.pop(model_id, None)
                self.promotions.pop(model_id, None)
                continue
            self.models[model_id] = rows.model
            self.environments[model_id] = rows.environments
            if rows.promotions:
                self.promotions[model_id] = rows.promotions
            else:
                self.promotions.pop(model_id, None)
        self.seq = max(self.seq, delta.seq)
        return touched

    def in_promotions(self) -> set[str]:
        """The deployments of the models with a promotion in progress."""
        return {i for model_id in self.promotions for i in self._of_model.get(model_id, ())}

    def desired(self) -> Desired:
        """Everything, as one tick of the old full read saw it."""
        return self.view(self.deployments.values(), self.models)

    def view(self, deployments: Iterable[Deployment], model_ids: Iterable[str]) -> Desired:
        """`deployments` with the models `model_ids` (those known), their environments
        and the promotions in progress."""
        models = [self.models[i] for i in model_ids if i in self.models]
        return Desired(
            models,
            list(deployments),
            [e for m in models for e in self.environments.get(m.id, ())],
            [p for m in models for p in self.promotions.get(m.id, ())],
        )

    def environments_by_name(self, model_ids: Iterable[str]) -> dict[tuple[str, str], Environment]:
        """The environments of `model_ids` by (model id, name)."""
        return {(e.model_id, e.name): e for i in model_ids for e in self.environments.get(i, ())}
