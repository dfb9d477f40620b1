"""Create the contract's Kafka topics, the SCRAM users of the external listener and
their ACLs: `python -m evcharging.create_topics [BOOTSTRAP]`.

Run at each stack start-up (the `kafka-setup` service of infra/compose.yml), as a
super user (the compose network's listener); running it again changes nothing but
the users' salts, so a password changed in .env takes effect at the next start.

Each role's password comes from its variable (KAFKA_SITE_PASSWORD…, acl.RolePasswords);
a role whose variable is unset or empty keeps the credential it had, or has none.
"""

from __future__ import annotations

import sys

from confluent_kafka.admin import AdminClient

from evcharging import acl
from evcharging.config import KafkaSettings, TopicSettings, load
from evcharging.kafka import client_config
from evcharging.kafka_admin import apply_acls, create_topics, upsert_users
from evcharging.logs import setup


def main(argv: list[str]) -> int:
    log = setup("kafka-setup")
    bootstrap = argv[1] if len(argv) > 1 else load(KafkaSettings).bootstrap
    role_passwords = load(acl.RolePasswords)
    admin = AdminClient(client_config(bootstrap))
    created = create_topics(admin, replication=load(TopicSettings).replication)
    log.info("topics created: %s", ", ".join(created) or "none, all exist")
    passwords = {role.user: role_passwords.of(role) for role in acl.ROLES}
    for role in acl.ROLES:
        if not passwords[role.user]:
            log.warning(
                "%s is not set: Kafka user '%s' keeps its password, if any", role.password_variable, role.user
            )
    users = upsert_users(admin, {user: password for user, password in passwords.items() if password})
    log.info("SCRAM-SHA-512 users set: %s", ", ".join(users) or "none")
    added, removed = apply_acls(admin)
    log.info("ACLs: %d added, %d removed, %d in force", added, removed, len(acl.all_grants()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
