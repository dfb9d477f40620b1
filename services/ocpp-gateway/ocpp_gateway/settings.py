"""ocpp-gateway's configuration, from the environment (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from evcharging.config import KAFKA_BOOTSTRAP, AddressText, Port, Seconds, ServiceSettings, variable

DEFAULT_CERT = Path("/etc/evcharging/tls/auth/central.crt")
DEFAULT_KEY = Path("/etc/evcharging/tls/auth/central.key")


class GatewaySettings(ServiceSettings):
    """ocpp-gateway's settings."""

    port: Port = variable("OCPP_PORT", "the port chargers open their WebSocket on (TLS: wss://)", 9000)
    tls_cert: Path = variable(
        "OCPP_TLS_CERT",
        "the certificate chargers verify (the central's, from scripts/pki.sh; OCPP security profile 2)",
        DEFAULT_CERT,
    )
    tls_key: Path = variable("OCPP_TLS_KEY", "the private key of OCPP_TLS_CERT", DEFAULT_KEY)
    central_auth: AddressText = variable(
        "CENTRAL_AUTH",
        "central-auth's plain port, where each charger's CP session is held",
        "central-auth:7000",
    )
    admit_within: Seconds = variable(
        "OCPP_ADMIT_WITHIN",
        "seconds central-auth has to accept a charger's password while its WebSocket handshake "
        "waits; after it the charger gets HTTP 503 and tries again",
        10.0,
    )
    kafka_bootstrap: str = KAFKA_BOOTSTRAP
    authorize_within: Seconds = variable(
        "OCPP_AUTHORIZE_WITHIN",
        "seconds the central has to authorise a driver at a charger (Authorize, StartTransaction) "
        "before the charger is told Invalid; less than the 15 s a request lives",
        10.0,
    )
    deliver_within: Seconds = variable(
        "OCPP_DELIVER_WITHIN",
        "seconds Kafka has to acknowledge a charger's transaction message before the charger is "
        "answered with an error (it sends the message again later)",
        10.0,
    )
    heartbeat_interval: int = variable(
        "OCPP_HEARTBEAT_INTERVAL",
        "the Heartbeat interval a BootNotification is answered with, in seconds",
        60,
        ge=1,
    )
    ping_interval: Seconds = variable(
        "OCPP_PING_INTERVAL",
        "seconds between the WebSocket pings that tell a lost charger (with OCPP_PING_TIMEOUT, "
        "within the 3 s a monitor's CP takes to turn desconectado)",
        1.0,
    )
    ping_timeout: Seconds = variable(
        "OCPP_PING_TIMEOUT", "seconds a charger has to answer a ping before its connection is closed", 2.0
    )
