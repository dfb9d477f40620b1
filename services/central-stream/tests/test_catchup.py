"""A request waits, after an assignment, until the CP events before it are processed;
events left unprocessed while nothing moves are named for reading again."""

from __future__ import annotations

import asyncio

from central_stream.catchup import CatchUp, Position

ENDED = "supply_ended"
FAULTS = "faults"
REQUESTS = "supply_requests"


async def waits_on(catch_up: CatchUp, partition: int) -> asyncio.Task[None]:
    """A request's wait, started and given the loop once, so it is truly waiting."""
    task = asyncio.create_task(catch_up.until_caught_up(partition))
    await asyncio.sleep(0)
    return task


def test_a_partition_never_assigned_here_has_nothing_to_wait_for() -> None:
    async def body() -> None:
        await asyncio.wait_for(CatchUp(REQUESTS).until_caught_up(3), 1)

    asyncio.run(body())


def test_a_request_waits_until_every_topic_reached_its_last_offset() -> None:
    async def body() -> None:
        catch_up = CatchUp(REQUESTS)
        catch_up.assigned({0, 1})
        waiting = await waits_on(catch_up, 0)
        catch_up.expect(0, {ENDED: (5, 8), FAULTS: (0, 3)}, now=0)
        catch_up.processed(ENDED, 0, 7, now=1)
        catch_up.processed(FAULTS, 1, 2, now=1)  # another partition
        await asyncio.sleep(0)
        assert not waiting.done(), "faults of partition 0 not processed yet"
        catch_up.processed(FAULTS, 0, 2, now=2)
        await asyncio.wait_for(waiting, 1)
        assert catch_up.waits(1), "partition 1's backlog is not known yet"

    asyncio.run(body())


def test_events_processed_before_the_backlog_was_known_count() -> None:
    async def body() -> None:
        catch_up = CatchUp(REQUESTS)
        catch_up.assigned({0})
        catch_up.processed(ENDED, 0, 9, now=0)
        catch_up.expect(0, {ENDED: (4, 10)}, now=1)
        assert not catch_up.waits(0)
        await asyncio.wait_for(catch_up.until_caught_up(0), 1)

    asyncio.run(body())


def test_nothing_unread_means_no_wait() -> None:
    catch_up = CatchUp(REQUESTS)
    catch_up.assigned({0})
    catch_up.expect(0, {}, now=0)
    assert not catch_up.waits(0)


def test_a_revoked_partition_releases_its_requests_and_ignores_a_late_backlog() -> None:
    async def body() -> None:
        catch_up = CatchUp(REQUESTS)
        catch_up.assigned({0})
        waiting = await waits_on(catch_up, 0)
        catch_up.release({0})
        await asyncio.wait_for(waiting, 1)
        catch_up.expect(0, {ENDED: (0, 4)}, now=0)  # the answer to a question asked before the revoke
        assert not catch_up.waits(0)

    asyncio.run(body())


def test_events_left_while_nothing_moves_are_named_from_the_first_not_processed() -> None:
    catch_up = CatchUp(REQUESTS)
    catch_up.assigned({0, 1})
    catch_up.expect(0, {ENDED: (10, 20), FAULTS: (3, 4)}, now=100)
    catch_up.expect(1, {ENDED: (0, 2)}, now=100)
    catch_up.processed(ENDED, 0, 12, now=101)
    catch_up.processed(FAULTS, 0, 3, now=101)
    assert catch_up.stuck(now=105, after=5) == [], "something moved 4 s ago"
    assert sorted(catch_up.stuck(now=106, after=5), key=str) == [
        Position(ENDED, 0, 13),
        Position(ENDED, 1, 0),
    ]
    assert catch_up.stuck(now=107, after=5) == [], "asked again only after another quiet spell"
    assert len(catch_up.stuck(now=111, after=5)) == 2


def test_a_partition_caught_up_is_never_named() -> None:
    catch_up = CatchUp(REQUESTS)
    catch_up.assigned({0})
    catch_up.expect(0, {ENDED: (0, 2)}, now=0)
    catch_up.processed(ENDED, 0, 1, now=1)
    assert catch_up.stuck(now=100, after=5) == []


def test_a_request_does_not_wait_for_other_requests_but_they_are_watched_too() -> None:
    catch_up = CatchUp(REQUESTS)
    catch_up.assigned({0})
    catch_up.expect(0, {REQUESTS: (7, 9)}, now=0)
    assert not catch_up.waits(0), "requests are judged in their own order"
    assert catch_up.stuck(now=10, after=5) == [Position(REQUESTS, 0, 7)]
    catch_up.processed(REQUESTS, 0, 8, now=11)
    assert catch_up.stuck(now=100, after=5) == []


def test_a_request_held_by_its_agent_is_not_read_again() -> None:
    catch_up = CatchUp(REQUESTS)
    catch_up.assigned({0})
    catch_up.expect(0, {REQUESTS: (7, 8), ENDED: (2, 3)}, now=0)
    catch_up.delivered(REQUESTS, 0, 7, now=1)  # waiting for the end, not processed
    assert catch_up.stuck(now=10, after=5) == [Position(ENDED, 0, 2)]
