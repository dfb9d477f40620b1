"""Each charger's last transaction, kept on Kafka so that it outlives the gateway.

A charger names its transaction by the id the gateway gave it at StartTransaction; a
charger reconnecting to a restarted gateway sends its queued MeterValues and
StopTransaction under that id. So the gateway writes the transaction (with the
supply it carries and the meter's start) to the compacted topic `transacciones_ocpp`
before it answers StartTransaction, and reads the topic whole when it starts.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from evcharging import messages as m
from evcharging.codec import ContractError, decode
from evcharging.kafka import consumer_config, end_positions
from evcharging.topics import OCPP_TRANSACTIONS
from ocpp_gateway.network import Outbox

log = logging.getLogger(__name__)

FIRST_ID_AT = datetime(2020, 1, 1, tzinfo=UTC)
"""Transaction ids are seconds since this instant: unique per charger without a
counter to keep, and within OCPP's 32-bit integer until 2088."""


class Ledger:
    def __init__(self, outbox: Outbox, transactions: dict[str, m.OcppTransaction] | None = None) -> None:
        self._outbox = outbox
        self._by_cp = dict(transactions or {})

    def last(self, cp_id: str) -> m.OcppTransaction | None:
        """The charger's last transaction, ended or not."""
        return self._by_cp.get(cp_id)

    def open(self, cp_id: str) -> m.OcppTransaction | None:
        last = self._by_cp.get(cp_id)
        return last if last is not None and not last.ended else None

    def find(self, cp_id: str, transaction_id: int) -> m.OcppTransaction | None:
        last = self._by_cp.get(cp_id)
        return last if last is not None and last.transaction_id == transaction_id else None

    def next_id(self, cp_id: str, now: datetime) -> int:
        """A transaction id the charger has not had."""
        last = self._by_cp.get(cp_id)
        return max(int((now - FIRST_ID_AT).total_seconds()), last.transaction_id + 1 if last else 1)

    async def record(self, transaction: m.OcppTransaction) -> None:
        """Keep `transaction` (acknowledged by Kafka when this returns)."""
        await self._outbox.deliver(OCPP_TRANSACTIONS, transaction)
        self._by_cp[transaction.cp_id] = transaction

    def __contains__(self, cp_id: object) -> bool:
        return cp_id in self._by_cp


def read_transactions(bootstrap: str, timeout: float = 30.0) -> dict[str, m.OcppTransaction]:
    """Every charger's last transaction, read from the beginning of the topic to its end."""
    consumer = Consumer(consumer_config(bootstrap, "ocpp-gateway-ledger"))
    try:
        ends = {p.partition: p.offset for p in end_positions(consumer, [OCPP_TRANSACTIONS], timeout)}
        remaining = {partition for partition, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(OCPP_TRANSACTIONS.name, p, OFFSET_BEGINNING) for p in remaining])
        transactions: dict[str, m.OcppTransaction] = {}
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                missing = sorted(remaining)
                raise TimeoutError(f"{OCPP_TRANSACTIONS.name}: partitions {missing} not read in time")
            record = consumer.poll(0.5)
            if record is None or record.error() is not None:
                continue
            _take(transactions, record.value())
            partition, offset = int(record.partition() or 0), int(record.offset() or 0)
            if offset + 1 >= ends[partition]:
                remaining.discard(partition)
        log.info("%d chargers' transactions read", len(transactions))
        return transactions
    finally:
        consumer.close()


def _take(transactions: dict[str, m.OcppTransaction], value: bytes | None) -> None:
    try:
        transaction = decode(OCPP_TRANSACTIONS, value)
    except ContractError as error:
        log.error("skipped a transaction record the contract refuses: %s", error)
        return
    transactions[transaction.cp_id] = transaction
