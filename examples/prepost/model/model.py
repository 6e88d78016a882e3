"""preprocess -> predict -> postprocess, as Truss's server chains them."""

from typing import Any


class Model:
    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self._name = config["model_name"]

    def load(self) -> None:
        pass

    def preprocess(self, model_input: dict[str, Any]) -> list[str]:
        return str(model_input.get("text", "")).split()

    def predict(self, words: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for word in words:
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
        return counts

    def postprocess(self, counts: dict[str, int]) -> dict[str, Any]:
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return {"model": self._name, "words": sum(counts.values()), "top": top[:3]}
