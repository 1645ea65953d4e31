"""No export step stays silent for long (issue 11): :class:`export._heartbeat.Heartbeat` speaks up for
steps that cannot report their own progress, and stays quiet for those that do."""

from __future__ import annotations

import re
import time

from export._heartbeat import SILENCE_S, Heartbeat


def test_a_silent_step_gets_a_line_naming_it_and_how_long_it_has_run():
    said: list[str] = []
    with Heartbeat(said.append, every_s=0.1) as progress:
        progress("tuning the decision threshold")
        time.sleep(1.0)  # one library call that reports nothing
    assert said[0] == "tuning the decision threshold"
    beats = said[1:]
    assert beats, "a second of silence got no line"
    assert all(re.fullmatch(r"tuning the decision threshold \(still working, \d+ s\)", line) for line in beats)


def test_a_step_that_reports_on_its_own_gets_no_extra_lines():
    said: list[str] = []
    with Heartbeat(said.append, every_s=5.0) as progress:
        for index in range(30):
            progress(f"parity: {index * 1000:,} cases compared")
            time.sleep(0.01)
    assert len(said) == 30 and not any("still working" in line for line in said)


def test_the_default_silence_is_a_couple_of_seconds():
    assert 1.0 <= SILENCE_S <= 5.0
