"""A model whose code needs a pip requirement (humanize), imported in load()."""

from typing import Any


class Model:
    def __init__(self, **kwargs: Any) -> None:
        self._naturalsize: Any = None

    def load(self) -> None:
        import humanize

        self._naturalsize = humanize.naturalsize

    def predict(self, model_input: dict[str, Any]) -> dict[str, str]:
        return {"size": self._naturalsize(int(model_input.get("bytes", 0)))}
