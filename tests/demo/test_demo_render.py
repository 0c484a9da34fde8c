"""What the demo prints: every line fits the terminal, and the verdict says what went wrong."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from calbridge_app.demo.render import DemoView
from calbridge_app.demo.runner import StepResult, StepStatus, summarize
from calbridge_app.demo.scenario import PAIRS, SCENARIO


def _play(width: int, failing: int | None = None) -> str:
    out = io.StringIO()
    view = DemoView(Console(file=out, width=width, color_system=None, force_terminal=False))
    view.pairs({pair.name: pair.name for pair in PAIRS}, {})
    results = []
    for number, step in enumerate(SCENARIO, start=1):
        view.started(number, step)
        if number == failing:
            result = StepResult(number, step, StepStatus.MISSING, detail="not seen in Outlook within 20 s")
        else:
            result = StepResult(number, step, StepStatus.ARRIVED, latency=0.061)
        view.finished(result)
        results.append(result)
    view.summary(summarize(results, duplicates=0, invitations=0))
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100, 120])
def test_every_line_fits_the_terminal_without_trailing_blanks(width: int) -> None:
    lines = _play(width).splitlines()

    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    assert not [line for line in lines if line != line.rstrip()]


def test_a_step_line_says_who_did_what_where_and_how_long_it_took() -> None:
    text = _play(100)

    line = next(line for line in text.splitlines() if line.startswith("✓  1 "))
    assert 'Alice creates "Design review" Tue 10:00' in line
    assert "Google → Outlook" in line and line.endswith("61 ms")
    assert "PASS  every change arrived on the other side" in text
    assert "duplicates 0 · invitations mailed 0" in text


def test_a_step_that_did_not_arrive_is_named_in_the_verdict() -> None:
    text = _play(100, failing=3)

    assert "✗  3 Alice moves it to Tue 14:00" in text
    assert "missing: not seen in Outlook within 20 s" in text
    assert "FAIL  step 3 did not arrive" in text
