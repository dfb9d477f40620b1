"""Who may do what on Kafka's external listener: one SCRAM user per role, and its ACLs.

Hosts other than the central's sign in on the SASL_SSL listener as one of three users
(docs/security.md). The central's user is a super user of the broker (`super.users`),
like every client of the compose network's own listeners (`User:ANONYMOUS`); the others
may do only what is granted here, and the broker refuses anything without a grant
(`allow.everyone.if.no.acl.found=false`):

- `site`: what a charging point's engine does (services/cp-engine): write its
  telemetry, its end-of-supply reports, supplies started at the CP and the commands it
  could not read (dead letters); read the central's commands, with its offsets
  committed in the consumer group `cp-engine-<cp id>`.
- `driver`: what the driver application does (services/driver): ask for supplies; read
  the answers, the tickets (offsets in the group `driver-<driver id>`) and the CPs'
  states (`driver list`, in the never-committed group `driver-<driver id>-list`).

So a site cannot authorise a supply, bill a driver or command another CP, and a driver
cannot pretend to be a charging point. READ and WRITE imply DESCRIBE in Kafka's
authorizer, which is all the metadata and offset look-ups these clients make, and WRITE
on a topic is what an idempotent producer's id needs (KIP-679), so nothing else is
granted. Pure data: create_topics applies it (evcharging.kafka_admin.apply_acls), with
the passwords of RolePasswords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evcharging import topics as t
from evcharging.config import ServiceSettings, variable
from evcharging.topics import Topic

Operation = Literal["READ", "WRITE", "DESCRIBE"]
ResourceType = Literal["TOPIC", "GROUP"]
PatternType = Literal["LITERAL", "PREFIXED"]

MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Role:
    user: str
    """The SCRAM user name; Kafka's principal is `User:<user>`."""
    password_variable: str
    """The environment variable (.env on the central) that holds its password."""
    runs: str
    """Who signs in as this user."""
    writes: tuple[Topic, ...] = ()
    reads: tuple[Topic, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    """Consumer groups it reads and commits in: every group whose id starts so."""
    super_user: bool = False

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


CENTRAL = Role(
    "central",
    "KAFKA_CENTRAL_PASSWORD",
    "central services run on another host than the broker",
    super_user=True,
)
SITE = Role(
    "site",
    "KAFKA_SITE_PASSWORD",
    "the CP engines of a site",
    writes=(t.TELEMETRY, t.SUPPLY_ENDED, t.SUPPLY_REQUESTS, t.DEAD_LETTERS),
    reads=(t.CP_COMMANDS,),
    group_prefixes=("cp-engine-",),
)
DRIVER = Role(
    "driver",
    "KAFKA_DRIVER_PASSWORD",
    "the driver application",
    writes=(t.SUPPLY_REQUESTS,),
    reads=(t.DRIVER_RESPONSES, t.TICKETS, t.CP_STATUS),
    group_prefixes=("driver-",),
)
ROLES: tuple[Role, ...] = (CENTRAL, SITE, DRIVER)
BY_USER: dict[str, Role] = {role.user: role for role in ROLES}


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation

    def covers(self, resource_type: ResourceType, name: str, operation: Operation) -> bool:
        """True when this grant allows `operation` on the resource, as Kafka's authorizer
        matches it: a literal name or a prefix, and READ or WRITE implying DESCRIBE."""
        if resource_type != self.resource_type:
            return False
        if self.pattern_type == "LITERAL" and name != self.resource_name:
            return False
        if self.pattern_type == "PREFIXED" and not name.startswith(self.resource_name):
            return False
        implied = operation == "DESCRIBE" and self.operation in ("READ", "WRITE")
        return operation == self.operation or implied


def grants(role: Role) -> frozenset[Grant]:
    """The ACLs that let `role` do its work; none for a super user, who needs none."""
    if role.super_user:
        return frozenset()
    principal = role.principal
    return frozenset(
        [Grant(principal, "TOPIC", topic.name, "LITERAL", "WRITE") for topic in role.writes]
        + [Grant(principal, "TOPIC", topic.name, "LITERAL", "READ") for topic in role.reads]
        + [Grant(principal, "GROUP", prefix, "PREFIXED", "READ") for prefix in role.group_prefixes]
    )


def all_grants() -> frozenset[Grant]:
    return frozenset().union(*(grants(role) for role in ROLES))


def allowed(user: str, operation: Operation, resource_type: ResourceType, name: str) -> bool:
    """Whether the broker lets `user` (signed in on the external listener) do this."""
    role = BY_USER.get(user)
    if role is None:
        return False
    if role.super_user:
        return True
    return any(grant.covers(resource_type, name, operation) for grant in grants(role))


def may_write(user: str, topic: Topic) -> bool:
    return allowed(user, "WRITE", "TOPIC", topic.name)


def may_read(user: str, topic: Topic, group: str) -> bool:
    """Read `topic` committing offsets in `group` (Kafka checks both)."""
    return allowed(user, "READ", "TOPIC", topic.name) and allowed(user, "READ", "GROUP", group)


class RolePasswords(ServiceSettings):
    """Each role's SCRAM password, from the central's .env: kafka-setup sets them on the
    broker, `make doctor` signs in with them. Unset, a role keeps the credential it had."""

    central: str | None = variable(
        CENTRAL.password_variable,
        "the password of Kafka user `central`, for " + CENTRAL.runs,
        None,
        secret=True,
    )
    site: str | None = variable(
        SITE.password_variable, "the password of Kafka user `site`, for " + SITE.runs, None, secret=True
    )
    driver: str | None = variable(
        DRIVER.password_variable, "the password of Kafka user `driver`, for " + DRIVER.runs, None, secret=True
    )

    def of(self, role: Role) -> str:
        """`role`'s password; empty when unset."""
        password: str | None = getattr(self, role.user)
        return password or ""
