"""The roles of Kafka's external listener may do their work and nothing else."""

from __future__ import annotations

import pytest

from evcharging import acl
from evcharging import topics as t
from evcharging.config import load
from evcharging.topics import Topic

CP_GROUP = "cp-engine-CP-A001"
DRIVER_GROUP = "driver-DRV001"
DRIVER_LIST_GROUP = "driver-DRV001-list"

WRITTEN_ONLY_BY_CENTRAL = (t.DRIVER_RESPONSES, t.TICKETS, t.CP_COMMANDS, t.CP_STATUS)


@pytest.mark.parametrize("topic", [*WRITTEN_ONLY_BY_CENTRAL, t.FAULTS, t.RECOVERIES, t.OPERATOR_COMMANDS])
def test_a_site_cannot_write_what_the_central_decides(topic: Topic) -> None:
    assert not acl.may_write("site", topic)


@pytest.mark.parametrize("topic", [t.TELEMETRY, t.SUPPLY_ENDED, *WRITTEN_ONLY_BY_CENTRAL, t.DEAD_LETTERS])
def test_a_driver_cannot_write_anything_but_requests(topic: Topic) -> None:
    assert not acl.may_write("driver", topic)


def test_a_driver_asks_for_supplies() -> None:
    assert acl.may_write("driver", t.SUPPLY_REQUESTS)


@pytest.mark.parametrize("topic", [t.TELEMETRY, t.SUPPLY_ENDED, t.SUPPLY_REQUESTS, t.DEAD_LETTERS])
def test_a_site_writes_what_its_engines_send(topic: Topic) -> None:
    """Telemetry, end reports and EngineStarted, supplies started at the CP, and the
    commands it could not read (services/cp-engine: runtime.OUTBOUND, commands.py)."""
    assert acl.may_write("site", topic)


def test_a_site_reads_the_commands_in_its_engines_groups() -> None:
    assert acl.may_read("site", t.CP_COMMANDS, CP_GROUP)
    assert acl.allowed("site", "DESCRIBE", "GROUP", CP_GROUP), "committed offsets are looked up"
    assert acl.allowed("site", "DESCRIBE", "TOPIC", t.CP_COMMANDS.name), "offsets for a time are looked up"


@pytest.mark.parametrize(
    "topic", [t.DRIVER_RESPONSES, t.TICKETS, t.TELEMETRY, t.SUPPLY_REQUESTS, t.CP_STATUS, t.DEAD_LETTERS]
)
def test_a_site_reads_nothing_but_commands(topic: Topic) -> None:
    assert not acl.allowed("site", "READ", "TOPIC", topic.name)


def test_a_site_cannot_use_the_central_or_the_drivers_groups() -> None:
    for group in ("evcharging-central-stream", DRIVER_GROUP, "cp-monitor-CP-A001", "cp-engine"):
        assert not acl.allowed("site", "READ", "GROUP", group), group


@pytest.mark.parametrize(
    ("topic", "group"),
    [(t.DRIVER_RESPONSES, DRIVER_GROUP), (t.TICKETS, DRIVER_GROUP), (t.CP_STATUS, DRIVER_LIST_GROUP)],
)
def test_a_driver_reads_its_answers_tickets_and_the_cps_states(topic: Topic, group: str) -> None:
    """`driver charge` (answers, tickets: group driver-<id>) and `driver list` (estado_cp)."""
    assert acl.may_read("driver", topic, group)


@pytest.mark.parametrize(
    "topic", [t.CP_COMMANDS, t.TELEMETRY, t.SUPPLY_REQUESTS, t.SUPPLY_ENDED, t.DEAD_LETTERS]
)
def test_a_driver_reads_nothing_else(topic: Topic) -> None:
    assert not acl.allowed("driver", "READ", "TOPIC", topic.name)


def test_a_driver_cannot_use_the_engines_or_the_centrals_groups() -> None:
    for group in (CP_GROUP, "evcharging-central-stream", "central-web"):
        assert not acl.allowed("driver", "READ", "GROUP", group), group


@pytest.mark.parametrize("topic", t.ALL)
def test_the_central_may_do_anything_as_a_super_user(topic: Topic) -> None:
    assert acl.may_write("central", topic)
    assert acl.may_read("central", topic, "any-group")
    assert acl.grants(acl.CENTRAL) == frozenset(), "a super user needs no ACLs"


def test_an_unknown_user_may_do_nothing() -> None:
    assert not acl.may_write("nobody", t.SUPPLY_REQUESTS)
    assert not acl.allowed("nobody", "DESCRIBE", "TOPIC", t.SUPPLY_REQUESTS.name)


def test_only_the_central_writes_answers_tickets_and_commands() -> None:
    for topic in WRITTEN_ONLY_BY_CENTRAL:
        assert [role.user for role in acl.ROLES if acl.may_write(role.user, topic)] == ["central"]


def test_the_grants_agree_with_the_contracts_producers_and_consumers() -> None:
    """topics.py says who produces and consumes each topic: a site is the cp-engine, a
    driver the driver. Dead letters are "every consumer"'s: the engine writes a command
    it cannot read there; the driver skips what it cannot read (driver/bus.py)."""
    dead_letters = {acl.SITE: {t.DEAD_LETTERS}, acl.DRIVER: set()}
    for role, service in ((acl.SITE, "cp-engine"), (acl.DRIVER, "driver")):
        produced = {topic for topic in t.ALL if service in topic.produced_by}
        consumed = {topic for topic in t.ALL if service in topic.consumed_by}
        assert set(role.writes) == produced | dead_letters[role], role.user
        assert set(role.reads) == consumed, role.user


def test_grants_are_literal_topics_and_prefixed_groups() -> None:
    for grant in acl.all_grants():
        assert grant.pattern_type == ("LITERAL" if grant.resource_type == "TOPIC" else "PREFIXED")
        assert grant.operation in ("READ", "WRITE")
    assert {g.resource_name for g in acl.all_grants() if g.resource_type == "GROUP"} == {
        "cp-engine-",
        "driver-",
    }


def test_every_role_has_its_own_password_variable() -> None:
    assert [role.password_variable for role in acl.ROLES] == [
        "KAFKA_CENTRAL_PASSWORD",
        "KAFKA_SITE_PASSWORD",
        "KAFKA_DRIVER_PASSWORD",
    ]


def test_each_role_has_its_password_variable_declared_once() -> None:
    variables = {name: field.validation_alias for name, field in acl.RolePasswords.model_fields.items()}
    assert variables == {role.user: role.password_variable for role in acl.ROLES}


def test_an_unset_password_is_empty_and_never_shown() -> None:
    passwords = load(acl.RolePasswords, {"KAFKA_SITE_PASSWORD": "site secret", "KAFKA_DRIVER_PASSWORD": ""})
    assert [passwords.of(role) for role in acl.ROLES] == ["", "site secret", ""]
    assert "site secret" not in repr(passwords)
