"""A scripted stand-in for central-stream, for the driver and central-web tests.

It reads the requests and operator commands that the code under test sends and
answers them as a script says (authorise and supply, deny, stay silent, turn an
operator stop into a `parado` status), producing the contract's own records on
the real broker. It only answers for the CP ids it was given, so other tests
sharing the broker are left alone. (No tests here: pytest collects the file only
because the owners' test-file pattern is `test_driver*`.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from confluent_kafka import Consumer

from evcharging.codec import ContractError, decode
from evcharging.kafka import ContractProducer, consumer_config, end_positions
from evcharging.messages import (
    CpState,
    CpStatus,
    DenialReason,
    EndReason,
    Message,
    OperatorAction,
    OperatorCommand,
    SupplyAuthorised,
    SupplyDenied,
    SupplyInterrupted,
    SupplyRequest,
    SupplyUpdate,
    Ticket,
    new_id,
    utc_now,
)
from evcharging.partitioning import partition_for
from evcharging.topics import CP_STATUS, DRIVER_RESPONSES, OPERATOR_COMMANDS, SUPPLY_REQUESTS, TICKETS


@dataclass
class Plan:
    """What the scripted central does with a request at one CP."""

    deny: DenialReason | None = None
    silent: bool = False
    updates: int = 3
    interval: float = 0.3
    interrupt: EndReason | None = None
    hold_ticket: bool = False
    noise_driver: str | None = None
    price: Decimal = Decimal("0.350")
    location: str = "Test bay"


@dataclass
class Served:
    """A request the central answered, and when its service ended (wall clock)."""

    request: SupplyRequest
    received_at: float
    ended_at: float | None = None
    session_id: str | None = None


@dataclass
class ScriptedCentral:
    bootstrap: str
    plans: dict[str, Plan] = field(default_factory=dict)
    served: list[Served] = field(default_factory=list)
    commands: list[OperatorCommand] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = ContractProducer(self.bootstrap, "scripted-central")
        self._stop = threading.Event()
        self._release: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []

    # --- control --------------------------------------------------------------------

    def start(self) -> ScriptedCentral:
        consumer = Consumer(consumer_config(self.bootstrap, f"scripted-central-{new_id()}"))
        consumer.assign(end_positions(consumer, (SUPPLY_REQUESTS, OPERATOR_COMMANDS)))
        self._thread = threading.Thread(target=self._loop, args=(consumer,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for event in self._release.values():
            event.set()
        for worker in self._workers:
            worker.join(10)
        if self._thread is not None:
            self._thread.join(10)
        self._producer.flush(10)

    def release_ticket(self, cp_id: str) -> None:
        self._release.setdefault(cp_id, threading.Event()).set()

    def publish(self, message: Message) -> None:
        topic = {CpStatus: CP_STATUS, Ticket: TICKETS}.get(type(message), DRIVER_RESPONSES)
        self._producer.send(topic, message)
        self._producer.flush(10)

    def status(self, cp_id: str, state: CpState, **live: object) -> CpStatus:
        plan = self.plans.get(cp_id, Plan())
        record = CpStatus(
            cp_id=cp_id,
            state=state,
            location=plan.location,
            price_per_kwh=plan.price,
            **live,  # type: ignore[arg-type]
        )
        self.publish(record)
        return record

    def requests_for(self, cp_id: str) -> list[Served]:
        with self._lock:
            return [s for s in self.served if s.request.cp_id == cp_id]

    # --- the loop -----------------------------------------------------------------------

    def _loop(self, consumer: Consumer) -> None:
        try:
            while not self._stop.is_set():
                raw = consumer.poll(0.1)
                if raw is None or raw.error() is not None:
                    continue
                try:
                    message = decode(raw.topic() or "", raw.value())
                except ContractError:
                    continue
                if isinstance(message, SupplyRequest) and message.cp_id in self.plans:
                    served = Served(message, time.time())
                    with self._lock:
                        self.served.append(served)
                    worker = threading.Thread(target=self._serve, args=(served,), daemon=True)
                    self._workers.append(worker)
                    worker.start()
                elif isinstance(message, OperatorCommand) and message.cp_id in self.plans:
                    with self._lock:
                        self.commands.append(message)
                    state = CpState.STOPPED if message.action is OperatorAction.STOP else CpState.ACTIVE
                    self.status(message.cp_id, state)
        finally:
            consumer.close()

    def _serve(self, served: Served) -> None:
        request = served.request
        plan = self.plans[request.cp_id]
        if plan.silent:
            return
        if plan.deny is not None:
            self.publish(
                SupplyDenied(
                    request_id=request.request_id,
                    cp_id=request.cp_id,
                    driver_id=request.driver_id,
                    reason=plan.deny,
                )
            )
            served.ended_at = time.time()
            return
        session = new_id()
        served.session_id = session
        started = utc_now()
        self.publish(
            SupplyAuthorised(
                request_id=request.request_id,
                session_id=session,
                cp_id=request.cp_id,
                driver_id=request.driver_id,
                price_per_kwh=plan.price,
            )
        )
        kwh = Decimal(0)
        for seq in range(plan.updates):
            if self._stop.wait(plan.interval):
                return
            kwh += Decimal("0.125")
            eur = (kwh * plan.price).quantize(Decimal("0.01"))
            self.publish(
                SupplyUpdate(
                    session_id=session,
                    cp_id=request.cp_id,
                    driver_id=request.driver_id,
                    seq=seq,
                    kw=Decimal("7.400"),
                    kwh=kwh,
                    eur=eur,
                )
            )
            if plan.noise_driver:
                self.publish(
                    SupplyUpdate(
                        session_id=new_id(),
                        cp_id=request.cp_id,
                        driver_id=plan.noise_driver,
                        seq=seq,
                        kw=Decimal("99.000"),
                        kwh=Decimal("9.999"),
                        eur=Decimal("9.99"),
                    )
                )
        ended_by = EndReason.UNPLUGGED
        if plan.interrupt is not None:
            ended_by = plan.interrupt
            self.publish(
                SupplyInterrupted(
                    session_id=session,
                    cp_id=request.cp_id,
                    driver_id=request.driver_id,
                    reason=plan.interrupt,
                )
            )
        if plan.hold_ticket:
            self._release.setdefault(request.cp_id, threading.Event()).wait(120)
            if self._stop.is_set():
                return
        eur = (kwh * plan.price).quantize(Decimal("0.01"))
        self.publish(
            Ticket(
                ticket_id=session,
                cp_id=request.cp_id,
                driver_id=request.driver_id,
                started_at=started,
                ended_at=max(utc_now(), started + timedelta(seconds=1)),
                kwh=kwh,
                price_per_kwh=plan.price,
                total_eur=eur,
                ended_by=ended_by,
            )
        )
        served.ended_at = time.time()


def neighbour_of(driver_id: str, prefix: str = "N") -> str:
    """Another driver id whose messages land in the same partition as `driver_id`'s."""
    target = partition_for(driver_id, DRIVER_RESPONSES.partitions)
    for n in range(10_000):
        candidate = f"{prefix}{n}{driver_id}"[:32]
        if candidate != driver_id and partition_for(candidate, DRIVER_RESPONSES.partitions) == target:
            return candidate
    raise AssertionError("no neighbour found")
