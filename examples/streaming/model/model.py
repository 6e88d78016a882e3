"""A generator predict: each yielded chunk is streamed to the client as it comes."""

import time
from collections.abc import Iterator
from typing import Any


class Model:
    def __init__(self, **kwargs: Any) -> None:
        pass

    def load(self) -> None:
        pass

    def predict(self, model_input: dict[str, Any]) -> Iterator[str]:
        delay = float(model_input.get("delay", 0.05))
        for word in str(model_input.get("text", "one two three")).split():
            yield word + "\n"
            time.sleep(delay)
