"""Only the newest waiting telemetry of each CP is applied; the rest is acknowledged at once."""

from __future__ import annotations

import asyncio

from central_stream.latest import Latest


def newer(new: tuple[str, int], old: tuple[str, int]) -> bool:
    """(session, seq): another session, or a later seq of the same one."""
    return new[0] != old[0] or new[1] > old[1]


def test_a_newer_report_takes_the_place_of_the_waiting_one_which_is_handed_back() -> None:
    waiting: Latest[tuple[str, int]] = Latest(newer)
    assert waiting.put("CP1", ("s", 1)) is None
    assert waiting.put("CP1", ("s", 2)) == ("s", 1)
    assert waiting.put("CP1", ("s", 2)) == ("s", 2), "a repeat is handed back, the original stays"
    assert waiting.put("CP1", ("s", 0)) == ("s", 0), "an older report is handed back"
    assert waiting.take("CP1") == ("s", 2)
    assert waiting.take("CP1") is None


def test_the_cp_that_waited_longest_goes_first_even_when_its_report_was_replaced() -> None:
    async def order() -> list[tuple[str, int]]:
        waiting: Latest[tuple[str, int]] = Latest(newer)
        waiting.put("CP1", ("a", 1))
        waiting.put("CP2", ("b", 1))
        waiting.put("CP1", ("a", 2))
        first = waiting.take(await waiting.oldest())
        second = waiting.take(await waiting.oldest())
        return [item for item in (first, second) if item is not None]

    assert asyncio.run(order()) == [("a", 2), ("b", 1)]


def test_oldest_waits_for_a_report_and_drop_forgets_the_unwanted() -> None:
    async def scenario() -> tuple[str, int]:
        waiting: Latest[tuple[str, int]] = Latest(newer)
        pending = asyncio.ensure_future(waiting.oldest())
        await asyncio.sleep(0)
        assert not pending.done()
        waiting.put("CP1", ("a", 7))
        first = await asyncio.wait_for(pending, 1)
        waiting.put("CP2", ("b", 1))
        waiting.put("CP3", ("c", 1))
        return first, waiting.drop(lambda item: item[0] == "b")

    first, dropped = asyncio.run(scenario())
    assert (first, dropped) == ("CP1", 1)
