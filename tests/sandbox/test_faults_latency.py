"""Latency faults with a long tail: real services answer most calls quickly and a few very
slowly, which a uniform delay never shows. Lognormal and Pareto draws, seeded and capped."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest

from sandbox.client import ControlError, SandboxControl
from sandbox.faults import Faults, OperationFaults


def _draws(rule: OperationFaults, n: int = 4000) -> list[float]:
    rng = random.Random(11)
    return sorted(rule.draw_latency(rng) for _ in range(n))


def _tail_ratio(values: list[float]) -> float:
    """How much slower the 99th percentile is than the median."""
    return values[int(len(values) * 0.99)] / statistics.median(values)


@pytest.mark.parametrize(
    "rule, at_least",
    [
        (OperationFaults(latency_tail="lognormal", latency_scale=0.05, latency_shape=1.0), 8.0),
        (OperationFaults(latency_tail="pareto", latency_scale=0.02, latency_shape=1.2), 15.0),
    ],
)
def test_a_long_tail_has_a_slow_99th_percentile_far_above_the_median(
    rule: OperationFaults, at_least: float
) -> None:
    values = _draws(rule)

    assert _tail_ratio(values) > at_least
    assert max(values) <= rule.latency_cap
    assert _tail_ratio(_draws(OperationFaults(latency=(0.05, 0.1)))) < 2.0  # uniform: no tail


def test_the_cap_bounds_every_draw_and_the_same_seed_repeats_a_run() -> None:
    rule = OperationFaults(latency_tail="pareto", latency_scale=0.5, latency_shape=0.5, latency_cap=2.0)

    values = _draws(rule)

    assert values[-1] == 2.0 and values[0] >= 0.5
    assert _draws(rule) == values


@pytest.mark.parametrize(
    "fields",
    [
        {"latency_tail": "gaussian"},
        {"latency_tail": "lognormal"},
        {"latency_tail": "pareto", "latency_scale": 0.1, "latency_shape": 0},
    ],
)
def test_a_tail_without_its_parameters_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        OperationFaults(**fields)  # type: ignore[arg-type]


async def test_a_long_tail_rule_delays_the_call_it_names() -> None:
    faults = Faults(seed=3)
    faults.operations["graph.events.get"] = OperationFaults(
        latency_tail="pareto", latency_scale=0.02, latency_shape=3.0, latency_cap=0.05
    )
    loop = asyncio.get_running_loop()
    began = loop.time()

    answer = await faults.before("graph.events.get")

    assert answer is None and loop.time() - began >= 0.02  # a Pareto delay is at least its scale
    assert faults.rule("graph.events.list") is None


@pytest.mark.integration
async def test_the_control_api_takes_a_long_tail_and_refuses_a_bad_one(control: SandboxControl) -> None:
    view = await control.set_fault("graph.*", latency_tail="lognormal", latency_scale=0.02, latency_shape=1.5)
    assert view["operations"]["graph.*"]["latency_tail"] == "lognormal"

    with pytest.raises(ControlError) as refused:
        await control.set_fault("graph.*", latency_tail="lognormal")
    assert refused.value.status == 400
