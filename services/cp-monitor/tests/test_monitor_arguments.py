"""The monitor's two command-line forms: the seed's
`<cp_id> <location> <central_ip:port> <kafka_broker>` and this project's
`[ENGINE_ADDRESS] [CENTRAL_ADDRESS] [CP_ID] [LOCATION] [PRICE]`, told apart by one
rule (cp_monitor.settings), and an engine that refuses the monitor's CP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from cp_monitor.engine_watch import EngineWatch
from cp_monitor.settings import Arguments, is_seed_form, parse, read_arguments
from evcharging.engine_link import (
    AssignIdentity,
    Attach,
    Attached,
    Busy,
    Check,
    Health,
    LinkRecord,
    from_frame,
    to_frame,
)
from evcharging.framing import FrameDecoder
from evcharging.messages import EngineHealth

SEED = ["CP001", "Alicante, Calle Mayor 3", "192.168.1.10:7443", "192.168.1.10:9095"]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("CP_ENROLMENT_KEY", "k" * 16)
    for name in (
        "CENTRAL_TLS_CA",
        "ENGINE_ADDRESS",
        "ENGINE_HOST",
        "ENGINE_HEALTH_PORT",
        "CP_ID",
        "CP_PRICE_KWH",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("values", "seed"),
    [
        (SEED, True),
        (["CP001", "Alicante", "10.0.0.1", "kafka:9092"], True),  # then refused: the central has no port
        (["cp-engine", "central-auth:7000", "CP001", "Alicante"], False),
        (["127.0.0.1:7100", "central-auth:7000", "CP001", "Alicante"], False),
        (["127.0.0.1:7100", "central-auth:7000", "CP001", "Alicante", "0.400"], False),
        (["CP001", "Alicante", "10.0.0.1:7000"], False),
        ([], False),
    ],
)
def test_four_arguments_with_a_cp_id_first_and_an_address_third_or_fourth_are_the_seeds(
    values: list[str], seed: bool
) -> None:
    assert is_seed_form(values) is seed


def test_the_seeds_form_gives_the_cp_its_location_central_and_an_unused_broker() -> None:
    assert read_arguments(SEED) == Arguments(
        central_address="192.168.1.10:7443",
        cp_id="CP001",
        location="Alicante, Calle Mayor 3",
        kafka_broker="192.168.1.10:9095",
    )


def test_the_projects_form_is_read_as_before() -> None:
    assert read_arguments(["127.0.0.1:7100", "central-auth:7000", "CP001", "Bench", "0.400"]) == Arguments(
        "127.0.0.1:7100", "central-auth:7000", "CP001", "Bench", "0.400"
    )
    assert read_arguments(["", "central-auth:7000"]) == Arguments(central_address="central-auth:7000")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (["CP001", "Alicante", "10.0.0.1", "kafka:9092"], "<central_ip:port> '10.0.0.1' is not HOST:PORT"),
        (["", "Alicante", "10.0.0.1:7000", "kafka:9092"], "<cp_id> '' is not a CP id"),
        (["CP 1", "Alicante", "10.0.0.1:7000", "kafka:9092"], "<cp_id> 'CP 1' is not a CP id"),
        (["CP001", " ", "10.0.0.1:7000", "kafka:9092"], "<location> is empty"),
        (["e:7100", "central-auth", "CP001"], "CENTRAL_ADDRESS 'central-auth' is not HOST:PORT"),
        (["e:7100", "c:7000", "CP 1"], "CP_ID 'CP 1' is not a CP id"),
        (["a", "b:1", "c", "d", "0.3", "f"], "at most five arguments"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(values: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        read_arguments(values)


def test_in_the_seeds_form_the_engine_is_on_this_pc_unless_the_environment_says(
    environment: pytest.MonkeyPatch,
) -> None:
    settings = parse(SEED)
    assert (settings.engine_host, settings.engine_port) == ("127.0.0.1", 7100)
    assert (settings.cp_id, settings.location, settings.central_address) == (
        "CP001",
        "Alicante, Calle Mayor 3",
        "192.168.1.10:7443",
    )
    assert settings.kafka_broker == "192.168.1.10:9095"
    environment.setenv("ENGINE_HEALTH_PORT", "7200")
    environment.setenv("CP_PRICE_KWH", "0.420")
    settings = parse(SEED)
    assert (settings.engine_port, settings.price_per_kwh) == (7200, Decimal("0.420"))
    environment.setenv("ENGINE_HOST", "engine.local")
    assert parse(SEED).engine_host == "engine.local"


def test_in_the_projects_form_the_engine_is_the_compose_service(environment: pytest.MonkeyPatch) -> None:
    settings = parse([])
    assert (settings.engine_host, settings.engine_port, settings.kafka_broker) == ("cp-engine", 7100, None)


def test_a_bad_command_line_exits_2_with_one_sentence(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["CP001", "Alicante", "192.168.1.10", "192.168.1.10:9095"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        "cp_monitor: error: <central_ip:port> '192.168.1.10' is not HOST:PORT "
        "(central-auth's address and port)"
    )


# --- an engine started as another CP ---------------------------------------------------------------


@asynccontextmanager
async def engine_of(cp_id: str, answer: Callable[[LinkRecord], LinkRecord]) -> AsyncIterator[int]:
    """A stand-in engine started as `cp_id`: refuses a monitor of another CP at attach."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        while data := await reader.read(4096):
            for frame in decoder.feed(data):
                record = from_frame(frame)
                refused = isinstance(record, Attach) and record.cp_id not in (None, cp_id)
                writer.write(to_frame(Busy(cp_id=cp_id) if refused else answer(record)))
                if refused:
                    writer.close()
                    return
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def healthy(record: LinkRecord) -> LinkRecord:
    return Health(health=EngineHealth.OK) if isinstance(record, Check) else Attached()


async def attaches(watch_cp: str | None) -> bool:
    async with engine_of("CP001", healthy) as port:
        watch = EngineWatch("127.0.0.1", port, timeout=1.0, cp_id=watch_cp)
        return await watch._try_attach(("127.0.0.1", port))


def test_a_monitor_tells_its_cp_when_attaching_and_says_why_it_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="cp-monitor.engine"):
        assert not asyncio.run(attaches("CP002"))
    (said,) = [r.getMessage() for r in caplog.records if r.name == "cp-monitor.engine"]
    assert "was started as CP CP001 and refuses this monitor of CP CP002" in said
    assert asyncio.run(attaches("CP001"))
    assert asyncio.run(attaches(None))


def refuses_other_ids(record: LinkRecord) -> LinkRecord:
    if isinstance(record, AssignIdentity) and record.cp_id != "CP001":
        return Busy(cp_id="CP001")
    return healthy(record)


async def assigned_another_id() -> EngineWatch:
    async with engine_of("CP001", refuses_other_ids) as port:
        watch = EngineWatch("127.0.0.1", port, timeout=1.0)
        assert await watch._try_attach(("127.0.0.1", port))
        await watch._check()
        assert watch.health is EngineHealth.OK
        await watch.assign("CP-A007", None, Decimal("0.35"))
        assert not await watch._try_attach(("127.0.0.1", port)), "it now says its CP, and is refused"
        return watch


def test_a_monitor_whose_id_the_engine_refuses_lets_go_of_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cp-monitor.engine"):
        watch = asyncio.run(assigned_another_id())
    assert (watch.connection, watch.health, watch.cp_id) == (None, EngineHealth.KO, "CP-A007")
    said = [r.getMessage() for r in caplog.records if r.name == "cp-monitor.engine"]
    assert len(said) == 2
    assert all("started as CP CP001 and refuses this monitor of CP CP-A007" in line for line in said)
