"""Entry point of central-auth: `python -m central_auth [PORT [KAFKA_BOOTSTRAP [DB_HOST[:PORT]]]]`.

Start-up order matters: every registered CP is announced disconnected *before*
the port opens, so no event of this run can precede the announcement on a CP's
partition; the beacons that vouch for this run start only after both. The TLS
listener opens just before the plain one, so a healthcheck that reaches the plain
port vouches for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import ssl
import sys

from central_auth.beacon import send_beacons
from central_auth.publisher import PRODUCER_OVERRIDES, EventPublisher
from central_auth.server import AuthServer
from central_auth.service import AuthService
from central_auth.settings import AuthSettings
from central_auth.store import GIVE_UP_AFTER, THREADS, CpStore
from central_auth.tls import TlsSetupError, server_context
from evcharging import db
from evcharging.db_threads import DatabaseThreads
from evcharging.kafka import ContractProducer
from evcharging.logs import setup

log = logging.getLogger("central-auth")


async def serve(settings: AuthSettings) -> None:
    """Run central-auth until SIGTERM or SIGINT."""
    tls = _tls_context(settings)
    store = CpStore(DatabaseThreads(settings.database, threads=THREADS, give_up_after=GIVE_UP_AFTER))
    publisher = EventPublisher(
        ContractProducer(settings.kafka.bootstrap, "central-auth", **PRODUCER_OVERRIDES)
    )
    service = AuthService(settings, store, publisher)
    await asyncio.to_thread(db.await_access, settings.database)
    await service.announce_restart()
    server = AuthServer(service)
    if tls is not None:
        await server.start_tls(settings.tls_port, tls)
    await server.start(settings.port)
    reports = asyncio.create_task(publisher.serve_delivery_reports())
    beacons = asyncio.create_task(send_beacons(service, settings.beacon_interval))
    try:
        await _until_stopped()
    finally:
        log.info("stopping")
        beacons.cancel()
        await server.stop()
        reports.cancel()
        await asyncio.to_thread(publisher.drain, 10.0)
        store.close()


def _tls_context(settings: AuthSettings) -> ssl.SSLContext | None:
    """The TLS listener's context, None (and a line saying so) without certificate files."""
    files = settings.tls
    try:
        context = server_context(files)
    except TlsSetupError as error:
        raise SystemExit(f"configuration error: {error}") from None
    if context is None:
        log.info(
            "TLS listener off: no %s nor %s (scripts/pki.sh makes them); "
            "only the plain port %d serves, for this host's network",
            files.cert,
            files.key,
            settings.port,
        )
    return context


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()


def _allow_open_files(wanted: int) -> None:
    """Each connection is a file descriptor: lift the soft limit toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: list[str]) -> int:
    setup("central-auth")
    logging.getLogger("mysql.connector").setLevel(logging.WARNING)  # one INFO line per connection
    settings = AuthSettings.load(argv)
    _allow_open_files(settings.max_connections + 256)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
