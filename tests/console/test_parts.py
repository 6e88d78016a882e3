"""The console's pure parts: sessions with an injected clock, the cross-site checks,
and the traffic figures from the gateway's counters."""

from __future__ import annotations

import pytest

from brace.console.data import Traffic
from brace.console.guard import safe_next, same_origin
from brace.console.sessions import MOST_SESSIONS, Sessions
from brace.server.gateway.counters import CounterHistory, RequestCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_it_expires_or_is_ended() -> None:
    clock = Clock()
    sessions = Sessions(clock, seconds=60)
    one, two = sessions.start(), sessions.start()
    assert one.token != two.token and one.csrf != one.token
    assert sessions.find(one.token) == one
    assert sessions.find(None) is None and sessions.find("") is None
    assert sessions.find("guess") is None
    sessions.end(two.token)
    assert sessions.find(two.token) is None
    clock.now += 60
    assert sessions.find(one.token) is None


def test_too_many_sessions_end_the_oldest() -> None:
    sessions = Sessions(Clock())
    first = sessions.start()
    for _ in range(MOST_SESSIONS):
        sessions.start()
    assert sessions.find(first.token) is None


def test_the_csrf_token_must_match_exactly() -> None:
    session = Sessions(Clock()).start()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(session.csrf[:-1])


@pytest.mark.parametrize(
    ("origin", "referer", "host", "allowed"),
    [
        ("http://127.0.0.1:8765", None, "127.0.0.1:8765", True),
        ("http://127.0.0.1:8766", None, "127.0.0.1:8765", False),
        ("http://evil.example", None, "127.0.0.1:8765", False),
        ("null", None, "127.0.0.1:8765", False),
        (None, "http://127.0.0.1:8765/console/usage", "127.0.0.1:8765", True),
        (None, "http://evil.example/", "127.0.0.1:8765", False),
        (None, "not a url", "127.0.0.1:8765", False),
        (None, None, "127.0.0.1:8765", False),
        ("http://127.0.0.1:8765", None, None, False),
    ],
)
def test_same_origin(
    origin: str | None, referer: str | None, host: str | None, allowed: bool
) -> None:
    assert same_origin(origin, referer, host) is allowed


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/console/usage?days=3", "/console/usage?days=3"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/a b", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_safe_next(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


def test_traffic_over_a_window_and_as_a_series() -> None:
    clock = Clock()
    counters = RequestCounters(clock)
    history = CounterHistory(counters)  # empty snapshot at 1000
    for _ in range(10):
        counters.record("d", 200, 0.004)
    clock.now += 5
    history.record()  # 10 requests by 1005
    for _ in range(5):
        counters.record("d", 503, 0.2)
    clock.now += 5  # now 1010: 5 more, all errors
    traffic = Traffic(counters.snapshot(), history.kept())
    last = traffic.stats("d", 5)
    assert (last["requests"], last["errors"], last["request_rate"]) == (5, 5, 1.0)
    both = traffic.stats("d", 60)  # more than kept: from the start
    assert (both["requests"], both["error_rate"]) == (15, 5 / 15)
    series = traffic.series("d")
    assert [(p["ago"], p["rate"], p["error_rate"]) for p in series] == [
        (5.0, 2.0, 0.0),
        (0.0, 1.0, 1.0),
    ]
    assert traffic.stats("other", 60)["requests"] == 0


def test_inside_a_window_nothing_older_is_counted() -> None:
    clock = Clock()
    counters = RequestCounters(clock)
    history = CounterHistory(counters)  # at 1000
    for _ in range(10):
        counters.record("d", 200, 0.004)  # before the step
    clock.now += 5
    history.record()  # at 1005
    clock.now += 3  # the step began at 1004; now 1008, one request since
    counters.record("d", 200, 0.004)
    traffic = Traffic(counters.snapshot(), history.kept())
    assert traffic.stats("d", 4, inside=True)["requests"] == 1
    assert traffic.stats("d", 4)["requests"] == 11  # from the snapshot before: older ones too


def test_a_chart_says_the_latest_and_the_peak_value() -> None:
    from brace.console.html import chart

    points = [
        {"ago": 10.0, "rate": 0.0},
        {"ago": 5.0, "rate": 0.0},
        {"ago": 0.0, "rate": None},
    ]
    flat = chart(points, "rate", 100.0, "%")
    assert "now 0.00% · peak 0.00%" in flat and "<polyline" in flat
    points[2]["rate"] = 0.5
    assert "now 50.00% · peak 50.00%" in chart(points, "rate", 100.0, "%")
    assert "no data" in chart([{"ago": 0.0, "rate": None}], "rate", 1.0, "/s")
