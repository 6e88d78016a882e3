"""The smallest useful Truss model: echo the input with a greeting."""

import os
from typing import Any


class Model:
    def __init__(self, **kwargs: Any) -> None:
        self._greeting = ""

    def load(self) -> None:
        self._greeting = os.environ.get("GREETING", "hello")

    def predict(self, model_input: Any) -> Any:
        return {"greeting": self._greeting, "echo": model_input}
