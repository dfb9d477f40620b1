"""What `kafka-setup` makes on the broker (evcharging.create_topics): the contract's
topics, the SCRAM users of the external listener, and exactly the ACLs that
evcharging.acl grants. Each step is idempotent, so it runs at every start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from evcharging import acl
from evcharging.topics import ALL, Topic

log = logging.getLogger(__name__)


def create_topics(admin: AdminClient, replication: int = 1, timeout: float = 30.0) -> list[str]:
    """Create every topic of the contract that does not exist yet; returns those created.

    Raises if an existing topic has another partition count than the contract,
    since a CP's events would then no longer stay on one worker.
    """
    existing = admin.list_topics(timeout=timeout).topics
    for topic in ALL:
        if topic.name in existing and len(existing[topic.name].partitions) != topic.partitions:
            raise RuntimeError(
                f"topic {topic.name} has {len(existing[topic.name].partitions)} partitions, "
                f"the contract says {topic.partitions}"
            )
    missing = [_new_topic(topic, replication) for topic in ALL if topic.name not in existing]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


SCRAM_ITERATIONS = 8192
"""Kafka accepts 4096 to 16384 for SCRAM-SHA-512."""


def upsert_users(admin: AdminClient, passwords: Mapping[str, str], timeout: float = 30.0) -> list[str]:
    """Set the SCRAM-SHA-512 credential of each user to its password (new salt each
    time, so a changed password simply replaces the old one); returns the users set."""
    if not passwords:
        return []
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, secret.encode()) for user, secret in passwords.items()
    ]
    futures = admin.alter_user_scram_credentials(upserts, request_timeout=timeout)
    for future in futures.values():
        future.result()
    return sorted(futures)


def apply_acls(admin: AdminClient, timeout: float = 30.0) -> tuple[int, int]:
    """Make the ACLs of the roles' principals exactly acl.all_grants(): create the
    missing ones, delete those the contract no longer grants (ACLs of any other
    principal are left alone). Returns (created, deleted)."""
    wanted = {_binding(grant) for grant in acl.all_grants()}
    present: set[AclBinding] = set()
    for role in acl.ROLES:
        # None: any resource name, any host (the stubs say str).
        every = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            role.principal,
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        present.update(admin.describe_acls(every, request_timeout=timeout).result())
    missing = sorted(wanted - present)
    stale = sorted(present - wanted)
    if missing:
        for future in admin.create_acls(missing, request_timeout=timeout).values():
            future.result()
    if stale:
        filters = [_exactly(binding) for binding in stale]
        for future in admin.delete_acls(filters, request_timeout=timeout).values():
            future.result()
    return len(missing), len(stale)


def _binding(grant: acl.Grant) -> AclBinding:
    return AclBinding(
        ResourceType[grant.resource_type],
        grant.resource_name,
        ResourcePatternType[grant.pattern_type],
        grant.principal,
        "*",
        AclOperation[grant.operation],
        AclPermissionType.ALLOW,
    )


def _exactly(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )


def _new_topic(topic: Topic, replication: int) -> NewTopic:
    config = {"cleanup.policy": "compact"} if topic.compacted else {}
    if topic.retention_ms is not None:
        # Retention deletes whole segments: roll them often enough for it to bite.
        # The active segment is never deleted, so the newest record always stays.
        segment_ms = max(topic.retention_ms // 6, 60_000)
        config |= {"retention.ms": str(topic.retention_ms), "segment.ms": str(segment_ms)}
    return NewTopic(
        topic.name, num_partitions=topic.partitions, replication_factor=replication, config=config
    )
