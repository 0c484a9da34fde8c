"""The dispatcher: one calendar in order, calendars in parallel, graceful drain."""

from __future__ import annotations

import asyncio

from bus_harness import eventually

from calbridge.bus.dispatch import Dispatcher


async def test_given_same_key_then_work_runs_in_submission_order_one_at_a_time() -> None:
    dispatcher = Dispatcher()
    log: list[str] = []
    gate = asyncio.Event()

    async def step(name: str, wait: bool) -> None:
        log.append(f"start {name}")
        if wait:
            await gate.wait()
        log.append(f"end {name}")

    dispatcher.submit("cal", lambda: step("a", True))
    dispatcher.submit("cal", lambda: step("b", False))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert log == ["start a"]  # b waits for a
    gate.set()
    await eventually(lambda: len(log) == 4, within=1, what="both steps")
    assert log == ["start a", "end a", "start b", "end b"]


async def test_given_different_keys_then_work_runs_concurrently() -> None:
    dispatcher = Dispatcher()
    both = asyncio.Barrier(2)

    async def meet() -> None:
        await asyncio.wait_for(both.wait(), 1)  # only passes if both run at once

    dispatcher.submit("cal-1", meet)
    dispatcher.submit("cal-2", meet)
    assert await dispatcher.drain(2)


async def test_given_failing_work_then_the_next_of_that_key_still_runs() -> None:
    dispatcher = Dispatcher()
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("x")

    async def after() -> None:
        ran.append("after")

    dispatcher.submit("cal", boom)
    dispatcher.submit("cal", after)
    await eventually(lambda: ran == ["after"], within=1, what="the next work of the key")


async def test_given_drain_then_running_work_finishes_and_waiting_work_never_starts() -> None:
    dispatcher = Dispatcher()
    release = asyncio.Event()
    ran: list[str] = []

    async def running() -> None:
        await release.wait()
        ran.append("running")

    async def waiting() -> None:
        ran.append("waiting")

    dispatcher.submit("cal", running)
    dispatcher.submit("cal", waiting)
    await asyncio.sleep(0)
    drain = asyncio.create_task(dispatcher.drain(5))
    await asyncio.sleep(0)
    release.set()
    assert await drain
    assert ran == ["running"]


async def test_given_work_outlasting_grace_then_drain_cancels_it_and_says_so() -> None:
    dispatcher = Dispatcher()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    dispatcher.submit("cal", stuck)
    await asyncio.sleep(0)
    assert not await dispatcher.drain(0.01)
    assert cancelled.is_set()
