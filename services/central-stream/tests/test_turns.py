"""A CP's events one at a time, other CPs meanwhile, and everybody's turn at once."""

from __future__ import annotations

import asyncio

from central_stream.turns import Turns
from tests.support.waiting import wait_until_async


def test_one_cp_waits_for_its_own_turn_and_not_for_another_cps() -> None:
    async def scenario() -> list[str]:
        turns, order = Turns(), []
        release = asyncio.Event()

        async def slow(cp_id: str, name: str) -> None:
            async with turns.of(cp_id):
                order.append(f"{name} in")
                await release.wait()
                order.append(f"{name} out")

        async def quick(cp_id: str, name: str) -> None:
            async with turns.of(cp_id):
                order.append(name)

        first = asyncio.ensure_future(slow("CP1", "a"))
        await wait_until_async(lambda: "a in" in order, 1, "CP1's first turn taken")
        same, other = asyncio.ensure_future(quick("CP1", "b")), asyncio.ensure_future(quick("CP2", "c"))
        await asyncio.wait_for(other, 1)
        assert not same.done()
        release.set()
        await asyncio.wait_for(asyncio.gather(first, same), 1)
        return order

    assert asyncio.run(scenario()) == ["a in", "c", "a out", "b"]


def test_everyones_turn_waits_for_the_turns_under_way_and_holds_up_new_ones() -> None:
    async def scenario() -> list[str]:
        turns, order = Turns(), []
        release, everyone_in = asyncio.Event(), asyncio.Event()

        async def under_way() -> None:
            async with turns.of("CP1"):
                await release.wait()
                order.append("CP1 done")

        async def everyone() -> None:
            async with turns.everyone():
                order.append("everyone")
                everyone_in.set()
                await asyncio.sleep(0)

        async def newcomer() -> None:
            async with turns.of("CP2"):
                order.append("CP2")

        running = asyncio.ensure_future(under_way())
        await asyncio.sleep(0)
        together = asyncio.ensure_future(everyone())
        await asyncio.sleep(0)
        late = asyncio.ensure_future(newcomer())
        await asyncio.sleep(0)
        assert order == [], "everyone waits for CP1, CP2 waits for everyone"
        release.set()
        await asyncio.wait_for(asyncio.gather(running, together, late), 1)
        return order

    assert asyncio.run(scenario()) == ["CP1 done", "everyone", "CP2"]
