"""CPs without an explicit id (scaled replicas): distinct ids, atomically, and the
same ids again when the replicas are recreated."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from evcharging.auth_client import AuthClient, Backoff, CpProfile, LinkState
from evcharging.messages import EngineHealth
from evcharging.wire import Claim, Claimed
from tests.support.central_auth import AuthProcess, TestRun, WireClient, central_auth
from tests.support.stack import Infra

pytestmark = pytest.mark.integration

REPLICAS = 5


@pytest.fixture
def server(infra: Infra, run: TestRun, tmp_path: Path) -> Iterator[AuthProcess]:
    with central_auth(infra, run, tmp_path / "central-auth.log") as process:
        yield process


def _replica(server: AuthProcess, run: TestRun) -> AuthClient:
    return AuthClient(
        ("127.0.0.1", server.port),
        enrolment_key=run.enrolment_key,
        profile=CpProfile("Replica bay", Decimal("0.300")),
        backoff=Backoff(initial=0.1, maximum=1.0, jitter=0.1),
    )


async def _start_replicas(server: AuthProcess, run: TestRun, count: int) -> list[str]:
    """Start `count` replicas at once, wait until each has an id, stop them; their ids."""
    replicas = [_replica(server, run) for _ in range(count)]
    tasks = [asyncio.create_task(replica.run(lambda: EngineHealth.OK)) for replica in replicas]
    try:
        async with asyncio.timeout(20):
            return list(await asyncio.gather(*(replica.wait_authenticated() for replica in replicas)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(replica.state is LinkState.STOPPED for replica in replicas)


def test_replicas_get_distinct_ids_and_the_same_ones_when_recreated(
    server: AuthProcess, run: TestRun
) -> None:
    first = asyncio.run(_start_replicas(server, run, REPLICAS))
    expected = [f"{run.auto_prefix}{n:03d}" for n in range(1, REPLICAS + 1)]
    assert sorted(first) == expected
    second = asyncio.run(_start_replicas(server, run, REPLICAS))
    assert sorted(second) == expected, "recreated replicas minted new ids instead of reusing theirs"
    fewer = asyncio.run(_start_replicas(server, run, 2))
    assert sorted(fewer) == expected[:2], "the lowest free ids come first"


def test_replicas_keep_their_ids_when_central_auth_restarts(
    infra: Infra, run: TestRun, tmp_path: Path
) -> None:
    async def scenario(servers: contextlib.ExitStack) -> None:
        first = servers.enter_context(central_auth(infra, run, tmp_path / "first.log"))
        replicas = [_replica(first, run) for _ in range(3)]
        tasks = [asyncio.create_task(replica.run(lambda: EngineHealth.OK)) for replica in replicas]
        try:
            async with asyncio.timeout(20):
                before = await asyncio.gather(*(replica.wait_authenticated() for replica in replicas))
            old_connections = {replica.connection_id for replica in replicas}
            await asyncio.to_thread(first.kill)
            second = central_auth(infra, run, tmp_path / "second.log", port=first.port)
            await asyncio.to_thread(servers.enter_context, second)
            async with asyncio.timeout(30):
                while not all(
                    replica.state is LinkState.AUTHENTICATED and replica.connection_id not in old_connections
                    for replica in replicas
                ):
                    await asyncio.sleep(0.1)  # polling, bounded by the timeout above
            assert [replica.cp_id for replica in replicas] == before, "a replica changed id across a restart"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    with contextlib.ExitStack() as servers:
        asyncio.run(scenario(servers))


def test_simultaneous_claims_never_share_an_id(server: AuthProcess, run: TestRun) -> None:
    clients = [WireClient(server.port) for _ in range(20)]
    try:
        claim = Claim(
            enrolment_key=run.enrolment_key,
            location="Race track",
            price_per_kwh=Decimal("0.3"),
            engine_health=EngineHealth.OK,
        )
        for client in clients:  # every claim is in flight before any answer is read
            client.send(claim)
        replies = [client.receive() for client in clients]
    finally:
        for client in clients:
            client.close()
    assert all(isinstance(reply, Claimed) for reply in replies), replies
    ids = [reply.cp_id for reply in replies if isinstance(reply, Claimed)]
    assert len(set(ids)) == 20
