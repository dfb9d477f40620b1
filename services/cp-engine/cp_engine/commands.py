"""The central's commands for this CP, read from the one partition its id maps to.

An engine never scans other CPs' traffic: it assigns itself the partition of
`comandos_cp` that its key hashes to and skips the few records of other CPs that
share it. Offsets are committed per CP after each command is applied, so a
restarted engine neither loses nor replays commands; a CP seen for the first time
starts a little before now, to catch a command sent while it was authenticating.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from evcharging import messages as m
from evcharging.codec import ContractError, decode
from evcharging.kafka import ContractProducer, consumer_config, dead_letter
from evcharging.partitioning import partition_for
from evcharging.topics import CP_COMMANDS, DEAD_LETTERS

log = logging.getLogger(__name__)

FIRST_START_LOOKBACK_MS = 30_000


class CommandFeed:
    def __init__(self, bootstrap: str, cp_id: str, dead_letters: ContractProducer) -> None:
        self.cp_id = cp_id
        self._dead_letters = dead_letters
        self._consumer = Consumer(consumer_config(bootstrap, f"cp-engine-{cp_id}"))
        self._partition = TopicPartition(CP_COMMANDS.name, partition_for(cp_id, CP_COMMANDS.partitions))
        try:
            self._consumer.assign([self._start_position()])
        except BaseException:
            self._consumer.close()
            raise

    def _start_position(self) -> TopicPartition:
        committed = self._consumer.committed([self._partition], timeout=30)[0]
        if committed.offset >= 0:
            return committed
        since = TopicPartition(
            self._partition.topic,
            self._partition.partition,
            int(time.time() * 1000) - FIRST_START_LOOKBACK_MS,
        )
        found = self._consumer.offsets_for_times([since], timeout=30)[0]
        return found if found.offset >= 0 else TopicPartition(since.topic, since.partition, OFFSET_END)

    def next(self, apply: Callable[[m.Message], None], timeout: float = 0.5) -> None:
        """Wait up to `timeout` for a record; apply it if it is a command for this CP."""
        record = self._consumer.poll(timeout)
        if record is None:
            return
        if record.error() is not None:
            log.warning("command feed: %s", record.error())
            return
        if record.key() == self.cp_id.encode():
            try:
                apply(decode(CP_COMMANDS, record.value()))
            except ContractError as error:
                log.error("rejected a command: %s", error)
                self._dead_letters.send(DEAD_LETTERS, dead_letter(record, str(error), "cp-engine"))
        self._consumer.commit(message=record, asynchronous=True)

    def close(self) -> None:
        self._consumer.close()
