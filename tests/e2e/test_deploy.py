"""Several machines, as docs/deploy.md sets them up, on one Docker host: the central
(the test stack, published on every address and known by the Docker bridge's gateway),
a site and a driver, each a compose project of its own that shares no network with the
central and reaches it only through that address — Kafka over SASL_SSL as its own
principal, central-auth over TLS, both verified with the project CA from the kit."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.e2e import Stack
from tests.support.remote import RemoteProject, write_kit
from tests.support.stack import ROOT, stack_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

PROJECT = stack_settings()["COMPOSE_PROJECT_NAME"]


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kits")
    write_kit("site", root / "site")
    write_kit("driver", root / "driver")
    return root


@pytest.fixture(scope="module")
def site(stack: Stack, kits: Path) -> Iterator[RemoteProject]:
    project = RemoteProject("site", f"{PROJECT}-site", kits / "site")
    try:
        started = project.up("--scale", "cp-engine=1")
        assert started.returncode == 0, started.stderr + project.logs()[-3000:]
        yield project
    finally:
        project.down()


@pytest.fixture(scope="module")
def driver(stack: Stack, kits: Path) -> Iterator[RemoteProject]:
    project = RemoteProject("driver", f"{PROJECT}-driver", kits / "driver")
    try:
        started = project.up()
        assert started.returncode == 0, started.stderr + project.logs()[-3000:]
        yield project
    finally:
        project.down()


def site_cp_id(site: RemoteProject) -> str:
    def assigned() -> str | None:
        done = site.compose("exec", "-T", "cp-engine", "charger", "status", "--json", check=False)
        return json.loads(done.stdout)["status"]["cp_id"] if done.returncode == 0 else None

    return wait_until(assigned, 90, "the site's CP to get its id from the central", interval=1)


def test_the_three_roles_share_no_network_and_know_the_central_only_by_its_address(
    site: RemoteProject, driver: RemoteProject
) -> None:
    central_networks = {f"{PROJECT}_default"}
    assert site.networks() == {f"{site.project}_default"}
    assert driver.networks() == {f"{driver.project}_default"}
    assert not (site.networks() | driver.networks()) & central_networks
    for project in (site, driver):
        settings = project.compose("config", "--format", "json").stdout
        assert "kafka:9092" not in settings
        assert "central-auth:7000" not in settings


def test_a_driver_elsewhere_charges_at_a_cp_elsewhere_and_the_central_bills_it(
    stack: Stack, site: RemoteProject, driver: RemoteProject
) -> None:
    cp_id = site_cp_id(site)
    stack.wait_states({cp_id: "activado"}, timeout=90)

    done = driver.compose(
        "exec",
        "-T",
        "driver",
        "driver",
        "--driver",
        "DRV005",
        "--json",
        "charge",
        cp_id,
        timeout=300,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    finished = [event for event in events if event.get("event") == "finished"]
    assert len(finished) == 1, done.stdout + done.stderr
    ticket = finished[0]["ticket"]
    assert finished[0]["result"] == "charged", finished
    rows = stack.query(
        "SELECT consumo_kwh, conductor_id, cp_id FROM suministros WHERE id = %s", ticket["ticket_id"]
    )
    assert rows == [{"consumo_kwh": Decimal(ticket["kwh"]), "conductor_id": "DRV005", "cp_id": cp_id}]
    assert Decimal(ticket["kwh"]) > 0


def test_a_site_with_a_wrong_password_is_told_so_and_disturbs_nobody(
    stack: Stack, site: RemoteProject, kits: Path
) -> None:
    cp_id = site_cp_id(site)
    wrong = RemoteProject(
        "site", f"{PROJECT}-badsite", kits / "site", (("KAFKA_SITE_PASSWORD", "not-the-password"),)
    )
    try:
        assert wrong.up("--scale", "cp-engine=1", wait=False).returncode == 0
        said = wait_until(
            lambda: [line for line in wrong.logs().splitlines() if "refuses user 'site'" in line],
            90,
            "the site with a wrong password to say why Kafka refuses it",
            interval=1,
        )
        assert "wrong password or unknown user" in said[0], said
        assert "KAFKA_SASL_PASSWORD" in said[0], said
        assert len(said) <= 3, f"said once per client, not at every retry: {said}"
        # The CP's own screen says it too (`charger screen` shows the same status).
        site_cp_id(wrong)
        status = json.loads(wrong.compose("exec", "-T", "cp-engine", "charger", "status", "--json").stdout)
        assert "refuses user 'site'" in (status["status"]["kafka_problem"] or ""), status
        stack.wait_states({cp_id: "activado"}, timeout=10)
    finally:
        wrong.down()


def test_the_external_listener_refuses_plain_text(driver: RemoteProject) -> None:
    plain = driver.compose(
        "run", "--rm", "--no-deps", "-e", "KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        "driver", "driver", "--timeout", "5", "list",
        check=False, timeout=120,
    )  # fmt: skip
    assert plain.returncode != 0, plain.stdout
    assert "wants TLS on that port" in plain.stdout + plain.stderr, plain.stdout + plain.stderr


PRODUCE_TELEMETRY = """
import os
from confluent_kafka import Producer
from evcharging.kafka import client_config
outcome = []
producer = Producer({**client_config(os.environ["KAFKA_BOOTSTRAP"]), "acks": "all"})
record = {"key": b"CP-NOT-YOURS", "value": b"{}"}
producer.produce("telemetria_cp", **record, on_delivery=lambda error, _m: outcome.append(error))
producer.flush(60)
print(outcome[0].name() if outcome and outcome[0] is not None else "DELIVERED")
"""


def test_a_driver_may_not_write_a_cps_telemetry(driver: RemoteProject) -> None:
    tried = driver.compose(
        "exec", "-T", "driver", "python", "-c", PRODUCE_TELEMETRY, check=False, timeout=120
    )
    assert tried.stdout.strip().splitlines()[-1:] == ["TOPIC_AUTHORIZATION_FAILED"], (
        tried.stdout + tried.stderr
    )


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOT / "scripts" / "doctor.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_doctor_checks_every_link_of_each_role_and_names_what_is_wrong(
    stack: Stack, site: RemoteProject, driver: RemoteProject
) -> None:
    central = doctor(dict(os.environ))
    assert central.returncode == 0, central.stdout + central.stderr
    lines = central.stdout.splitlines()[1:]
    assert len(lines) == 7, central.stdout
    assert all(line.startswith("ok ") for line in lines), central.stdout
    assert any(
        "as 'driver': reachable; TLS certificate from the project CA; signed in" in line for line in lines
    )

    for project in (site, driver):
        checked = doctor({**project.env, "PKI_DIR": str(project.kit)})
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert all(line.startswith("ok ") for line in checked.stdout.splitlines()[1:]), checked.stdout

    wrong = doctor({**site.env, "PKI_DIR": str(site.kit), "KAFKA_SITE_PASSWORD": "not-the-password"})
    assert wrong.returncode == 1, wrong.stdout
    (failed,) = [line for line in wrong.stdout.splitlines() if line.startswith("FAIL")]
    assert "as 'site'" in failed, wrong.stdout
    assert "refuses user 'site'" in failed, wrong.stdout
    assert any(line.startswith("ok    central-auth") for line in wrong.stdout.splitlines()), wrong.stdout
