"""The traffic split of an environment during a rolling deployment, without coin flips.

nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c,
`ngx_http_upstream_get_peer`) with two peers, the candidate weighing `percent` and the
current deployment `100 - percent`: each request adds every peer's weight to its
running score, the higher score gets the request (a tie goes to the current
deployment), and the winner pays back the total weight, 100. With two peers the two
scores always sum to zero, so one integer is the whole state: the candidate's score,
which stays within (-50, 50].

After n requests the candidate has had (n * percent + start - end) / 100 of them, so
over any 100 consecutive requests at one percentage it gets exactly `percent`, spread
evenly (30 %: 3 in every 10), and over any 100 consecutive requests across a change of
percentage it gets the sum of the percentages in force, divided by 100, give or take
less than one request. A change takes effect with the next request; the score carries
over, so nothing already sent moves and nothing is dropped.

The gateway keeps one `SmoothSplit` per (model id, environment) and one `SplitChoice`
per remembered route of such an environment, so a request pays a dict lookup and a few
integer operations for its share of the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class SmoothSplit:
    """The split state of one environment; not thread-safe (the gateway's loop owns it)."""

    __slots__ = ("score",)

    def __init__(self) -> None:
        self.score = 0
        """The candidate's running score; the current deployment's is its negation."""

    def choose(self, percent: int) -> bool:
        """True when the next request goes to the candidate; `percent`: 0-100, the
        candidate's share now."""
        score = self.score + percent
        if score > 50:
            self.score = score - 100
            return True
        self.score = score
        return False


@dataclass(frozen=True, slots=True)
class SplitChoice(Generic[T]):
    """The two places a split route leads to, and the split that picks between them."""

    split: SmoothSplit
    percent: int
    candidate: T
    current: T

    def pick(self) -> T:
        return self.candidate if self.split.choose(self.percent) else self.current
