import math

import pytest

from lopt_eval.progress import Progress, eta_seconds, format_seconds


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"),
                                          (7620, "2h07m"), (math.nan, "?"), (math.inf, "?"), (-3, "0s")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_eta_extrapolates_the_pace_since_the_reference_point():
    # The first report: 10 of 100 units after 15 s (mostly compiling); now 30 after 35 s: 1 unit/s since then.
    assert eta_seconds(30, 100, 35, since=(10, 15)) == pytest.approx(70.0)
    assert eta_seconds(30, 100, 35) == pytest.approx(70 * 35 / 30)  # the pace since the start
    assert eta_seconds(10, 100, 15, since=(10, 15)) == pytest.approx(90 * 15 / 10)  # nothing since: from the start
    assert math.isnan(eta_seconds(0, 100, 5))


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def run(reports, every):
    """Lines logged by a phase whose reports come at the given (seconds since start, done, total)."""
    lines, clock = [], Clock()
    progress = Progress(lines.append, "digits: adam sweep", every=every, clock=clock)
    for at, done, total in reports:
        clock.now = 100.0 + at
        progress(done, total)
    return lines


def test_lines_at_most_every_interval_with_an_eta_from_the_pace_after_compilation():
    # The first chunk (compilation included) takes 20 s, then each 10-unit chunk takes 5 s.
    reports = [(20, 10, 100)] + [(20 + 5 * i, 10 + 10 * i, 100) for i in range(1, 10)]
    lines = run(reports, every=10)
    assert lines == [
        "digits: adam sweep: 10% in 20s, ETA ≤3m00s",  # one report: the pace with the compilation
        "digits: adam sweep: 30% in 30s, ETA 35s",  # 20 units in 10 s since then: 70 units left
        "digits: adam sweep: 50% in 40s, ETA 25s",
        "digits: adam sweep: 70% in 50s, ETA 15s",
        "digits: adam sweep: 90% in 1m00s, ETA 5s",
        "digits: adam sweep: done in 1m05s",
    ]


def test_a_short_phase_prints_nothing_and_every_zero_prints_every_report():
    assert run([(1, 5, 10), (2, 10, 10)], every=10) == []
    assert run([(12, 10, 10)], every=10) == ["digits: adam sweep: done in 12s"]
    assert run([(1, 5, 10), (2, 10, 10)], every=0) == ["digits: adam sweep: 50% in 1s, ETA ≤1s",
                                                       "digits: adam sweep: done in 2s"]
