"""Identical errors relayed once, then counted; everything else as it is."""

from __future__ import annotations

from brace.devserver.repeats import Repeats

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/m/model/model.py", line 9, in predict',
    "    raise ValueError('boom')",
    "ValueError: boom",
]


def error(second: int, replica: str = "r1", message: str = "Exception in model:") -> list[str]:
    stamp = f"2026-12-05T10:42:{second:02d}.123+00:00"
    return [f"{stamp} ERROR [{replica}] brace.runtime: {message}", *TRACEBACK]


def relay(repeats: Repeats, *reads: list[str]) -> list[str]:
    """What is relayed over several reads of the log (each ends with a flush)."""
    out: list[str] = []
    for read in reads:
        for line in read:
            out += repeats.feed(line)
        out += repeats.flush()
    return out


def test_a_storm_of_identical_errors_is_one_traceback_and_a_count() -> None:
    storm = [line for second in range(46) for line in error(second % 60, f"r{second % 2}")]
    relayed = relay(Repeats(), storm[:20], storm[20:], [])
    assert relayed == [*error(0, "r0"), "... the same error 45 more times (the last at 10:42:45)"]


def test_another_line_ends_the_count_and_a_new_storm_shows_again() -> None:
    info = "2026-12-05T10:43:00.000+00:00 INFO [r1] brace.runtime: Reloaded in 12 ms"
    printed = "hello from predict"
    relayed = relay(Repeats(), [*error(1), *error(2), *error(3), info, printed], [], error(5))
    assert relayed == [
        *error(1),
        "... the same error 2 more times (the last at 10:42:03)",
        info,
        printed,
        *error(5),
    ]


def test_different_errors_and_repeated_prints_are_all_relayed() -> None:
    other = error(2, message="Exception in model (mid-stream; the response is truncated):")
    prints = ["2026-12-05T10:42:01.000+00:00 INFO [r1] brace.runtime: hi"] * 3
    lines = [*error(1), *other, *prints]
    assert relay(Repeats(), lines) == lines
