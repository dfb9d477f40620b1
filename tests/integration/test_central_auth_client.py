"""The monitor's AuthClient against the real central-auth: a hand-run CP keeps its
credential across restarts, and every client reconnects with backoff by itself."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from evcharging.auth_client import AuthClient, AuthRefused, Backoff, CpProfile, FileCredentialStore, LinkState
from evcharging.messages import CpConnected, CpDisconnected, EngineHealth, Fault, Recovery
from evcharging.wire import Authenticated, Heartbeat, HeartbeatAck
from tests.support.central_auth import CpEvents, TestRun, WireClient, central_auth
from tests.support.stack import ROOT, Infra, free_port
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration

PROFILE = CpProfile("Bench, bay 1", Decimal("0.333"))
QUICK = Backoff(initial=0.2, maximum=2.0, jitter=0.1)


def test_a_hand_run_cp_registers_once_then_authenticates_with_its_saved_credential(
    infra: Infra, run: TestRun, tmp_path: Path, events: CpEvents
) -> None:
    cp_id = run.new_cp_id()
    store = FileCredentialStore(tmp_path / "credential.json")
    health = EngineHealth.OK

    async def life(server_port: int) -> str | None:
        client = AuthClient(
            ("127.0.0.1", server_port),
            enrolment_key=run.enrolment_key,
            profile=PROFILE,
            cp_id=cp_id,
            credentials=store,
            backoff=QUICK,
        )
        task = asyncio.create_task(client.run(lambda: health))
        try:
            async with asyncio.timeout(15):
                assert await client.wait_authenticated() == cp_id
            return client.connection_id
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    with central_auth(infra, run, tmp_path / "central-auth.log") as server:
        asyncio.run(life(server.port))
        saved = store.load(cp_id)
        assert saved is not None
        assert oct((tmp_path / "credential.json").stat().st_mode & 0o777) == "0o600"
        asyncio.run(life(server.port))  # a restarted monitor: must not register again
        assert store.load(cp_id) == saved, "the CP registered anew instead of using its credential"
        assert server.log().count(f"CP {cp_id} registered") == 1
    assert [type(message) for message in events.wait_for(cp_id, 4)] == [
        CpConnected,
        CpDisconnected,
        CpConnected,
        CpDisconnected,
    ]


def test_the_client_reconnects_with_backoff_and_reauthenticates_after_central_auth_restarts(
    infra: Infra, run: TestRun, tmp_path: Path, events: CpEvents
) -> None:
    port = free_port()
    health = {"now": EngineHealth.OK}
    states: list[tuple[float, LinkState]] = []
    claimed: list[str] = []

    async def scenario(servers: contextlib.ExitStack) -> None:
        first = servers.enter_context(central_auth(infra, run, tmp_path / "first.log", port=port))
        client = AuthClient(
            ("127.0.0.1", port),
            enrolment_key=run.enrolment_key,
            profile=PROFILE,
            backoff=QUICK,
            on_state=lambda state, _cp: states.append((time.monotonic(), state)),
        )
        task = asyncio.create_task(client.run(lambda: health["now"]))
        try:
            async with asyncio.timeout(15):
                cp_id = await client.wait_authenticated()
            claimed.append(cp_id)
            health["now"] = EngineHealth.KO
            client.nudge()
            await wait_until_async(lambda: "fault" in events.types_of(cp_id), 10, "the fault on Kafka")
            before = client.connection_id
            await asyncio.to_thread(first.kill)
            await wait_until_async(
                lambda: client.state is LinkState.BACKING_OFF, 10, "the client to back off"
            )
            await wait_until_async(
                lambda: sum(s is LinkState.BACKING_OFF for _, s in states) >= 3, 15, "a few retries"
            )
            await asyncio.to_thread(
                servers.enter_context, central_auth(infra, run, tmp_path / "second.log", port=port)
            )
            await wait_until_async(
                lambda: client.state is LinkState.AUTHENTICATED and client.connection_id != before,
                20,
                "the client to authenticate again",
            )
            assert client.cp_id == cp_id
            health["now"] = EngineHealth.OK
            client.nudge()
            await wait_until_async(lambda: "recovery" in events.types_of(cp_id), 10, "the recovery on Kafka")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert client.state is LinkState.STOPPED

    with contextlib.ExitStack() as servers:
        asyncio.run(scenario(servers))
    backoff_times = [at for at, state in states if state is LinkState.BACKING_OFF]
    gaps = [later - earlier for earlier, later in itertools.pairwise(backoff_times)]
    assert gaps[1] > gaps[0] * 1.3 or gaps[-1] >= QUICK.maximum * 0.8, f"no exponential backoff: {gaps}"
    (cp_id,) = claimed
    kinds = [type(message) for message in events.wait_for(cp_id, 7)]
    assert kinds == [
        CpConnected,  # engine OK
        Fault,
        CpDisconnected,  # announced by the restarted central-auth (the killed one said nothing)
        CpConnected,  # re-authenticated, engine still KO...
        Fault,  # ...so the fault is reported again for this new session
        Recovery,
        CpDisconnected,  # the client stopped
    ]
    assert len(events.of(cp_id)) == 7


def test_a_wrong_enrolment_key_ends_run_with_auth_refused(infra: Infra, run: TestRun, tmp_path: Path) -> None:
    async def attempt(port: int) -> None:
        client = AuthClient(("127.0.0.1", port), enrolment_key="x" * 32, profile=PROFILE, backoff=QUICK)
        async with asyncio.timeout(15):
            await client.run(lambda: EngineHealth.OK)

    with (
        central_auth(infra, run, tmp_path / "central-auth.log") as server,
        pytest.raises(AuthRefused) as refused,
    ):
        asyncio.run(attempt(server.port))
    assert refused.value.reason.value == "bad_enrolment_key"


def test_the_container_healthcheck_pings_the_server(infra: Infra, run: TestRun, tmp_path: Path) -> None:
    def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "central_auth.healthcheck", f"127.0.0.1:{port}"],
            env={"PYTHONPATH": f"{ROOT / 'services/central-auth'}:{ROOT / 'lib'}"},
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )

    with central_auth(infra, run, tmp_path / "central-auth.log") as server:
        assert healthcheck(server.port).returncode == 0
    stopped = healthcheck(server.port)
    assert stopped.returncode == 1
    assert "unhealthy" in stopped.stderr


def test_heartbeats_are_stretched_as_cps_connect_and_the_client_follows(
    infra: Infra, run: TestRun, tmp_path: Path
) -> None:
    """A budget of 2 heartbeats a second: 1 CP beats every second, 5 CPs every 2.5 s
    (timeout 7.5 s), and a CP already connected learns the new terms in its next ack."""
    first = run.new_cp_id()

    async def life(port: int) -> None:
        client = AuthClient(
            ("127.0.0.1", port), enrolment_key=run.enrolment_key, profile=PROFILE, cp_id=first, backoff=QUICK
        )
        task = asyncio.create_task(client.run(lambda: EngineHealth.OK))
        try:
            async with asyncio.timeout(15):
                await client.wait_authenticated()
            assert client.heartbeat_interval == 1.0
            others = await asyncio.to_thread(_connect_four_more, port)
            assert [reply.heartbeat_interval for reply in others] == [1.0, 1.5, 2.0, 2.5]
            await wait_until_async(
                lambda: client.heartbeat_interval == 2.5, 5, "the client to adopt the new terms"
            )
            await asyncio.sleep(4)  # silent past the base 3 s timeout, within the new 7.5 s
            assert client.state is LinkState.AUTHENTICATED
            assert await asyncio.to_thread(_last_is_still_served)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    opened: list[WireClient] = []

    def _connect_four_more(port: int) -> list[Authenticated]:
        replies = []
        for _ in range(4):
            client = WireClient(port)
            opened.append(client)
            cp_id = run.new_cp_id()
            reply = client.authenticate(cp_id, client.register(run, cp_id))
            assert isinstance(reply, Authenticated)
            replies.append(reply)
        return replies

    def _last_is_still_served() -> bool:
        """The last CP, silent for 4 s, still gets its heartbeat answered."""
        return isinstance(opened[-1].request(Heartbeat(engine_health=EngineHealth.OK)), HeartbeatAck)

    with central_auth(infra, run, tmp_path / "central-auth.log", AUTH_HEARTBEAT_BUDGET="2") as server:
        try:
            asyncio.run(life(server.port))
        finally:
            for client in opened:
                client.close()
