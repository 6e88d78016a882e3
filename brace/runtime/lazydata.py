"""The `lazy_data_resolver` handed to a model's `__init__`, as Truss's server hands it.

On Baseten it downloads `model_cache` weights in the background, and the model calls
`block_until_download_complete()` in `__init__` or `load()` before reading them. brace
downloads nothing (config.yaml's `model_cache` is reported as not applied), so there
is never anything to wait for: the call returns at once with nothing resolved, as
Truss's does when a deployment has no cached data.
"""

from __future__ import annotations


class LocalDataResolver:
    def block_until_download_complete(
        self, log_stats: bool = True, issue_collect: bool = True
    ) -> str:
        """Return at once: there is no data being downloaded (Truss returns "" then)."""
        return ""

    def __repr__(self) -> str:
        return "LocalDataResolver()"
