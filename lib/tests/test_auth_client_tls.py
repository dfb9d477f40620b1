"""The monitor client's TLS set-up and its sentences: each way of getting it wrong is
said in one sentence that tells what to change, reported once and cleared once the
CP is authenticated again."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from evcharging.auth_client import AuthClient, Backoff, CpProfile
from evcharging.central_tls import CentralTls, TlsSetupError, explain_no_answer, explain_tls_failure
from evcharging.framing import FrameDecoder
from evcharging.messages import EngineHealth
from evcharging.wire import Claim, Claimed, Heartbeat, HeartbeatAck, from_frame, to_frame

ROOT = Path(__file__).resolve().parents[2]
CA = Path("/site/ca.crt")


def _verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code = code  # set by OpenSSL on real ones
    error.verify_message = message
    return error


def _ssl_error(reason: str, cls: type[ssl.SSLError] = ssl.SSLError) -> ssl.SSLError:
    error = cls(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')} (_ssl.c:1006)")
    error.reason = reason
    return error


def _explain(error: BaseException, host: str = "central.example") -> str:
    return explain_tls_failure(error, host, 7443, CA, 10.0)


@pytest.mark.parametrize("code", [19, 20, 21])
def test_a_certificate_from_another_ca_asks_for_the_centrals_ca(code: int) -> None:
    assert _explain(_verification_error(code, "unable to get local issuer certificate")) == (
        "central-auth at central.example:7443 presented a certificate not signed by the CA in "
        "CENTRAL_TLS_CA (/site/ca.crt): copy the central's pki/ca.crt"
    )


@pytest.mark.parametrize(("code", "host"), [(62, "central.example"), (64, "192.0.2.7")])
def test_a_name_missing_from_the_certificate_names_central_host(code: int, host: str) -> None:
    said = _explain(_verification_error(code, "Hostname mismatch"), host)
    assert said.startswith(f"central-auth at {host}:7443 presented a certificate that is not valid for ")
    assert f"the name {host!r}" in said
    assert f"set CENTRAL_HOST={host} on the central" in said


def test_an_expired_certificate_says_so() -> None:
    said = _explain(_verification_error(10, "certificate has expired"))
    assert "out of its validity dates (certificate has expired)" in said


def test_the_plain_port_given_to_a_tls_client_says_the_port_does_not_speak_tls() -> None:
    assert _explain(_ssl_error("WRONG_VERSION_NUMBER")) == (
        "the TLS handshake with central-auth at central.example:7443 failed (wrong version number): "
        "that port does not speak TLS; is CENTRAL_ADDRESS the plain port? give the central's TLS port "
        "(7443 unless moved), or unset CENTRAL_TLS_CA inside the central's network"
    )


@pytest.mark.parametrize(
    "error", [ConnectionResetError(), _ssl_error("UNEXPECTED_EOF_WHILE_READING", ssl.SSLEOFError)]
)
def test_a_connection_closed_in_the_handshake_asks_whether_it_is_the_tls_port(error: BaseException) -> None:
    assert "closed the connection during the TLS handshake: is CENTRAL_ADDRESS its TLS port?" in _explain(
        error
    )


def test_a_silent_handshake_and_other_failures_are_one_sentence_too() -> None:
    assert _explain(TimeoutError()) == (
        "central-auth at central.example:7443 did not complete a TLS handshake within 10 s"
    )
    assert _explain(_ssl_error("NO_SHARED_CIPHER")) == (
        "the TLS handshake with central-auth at central.example:7443 failed: no shared cipher"
    )


def test_a_plain_client_on_the_tls_port_is_asked_to_set_central_tls_ca() -> None:
    assert explain_no_answer("central.example", 7443) == (
        "central-auth at central.example:7443 closed the connection without answering: "
        "is CENTRAL_ADDRESS the TLS port? set CENTRAL_TLS_CA to the central's pki/ca.crt"
    )


# --- the CA file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pki = tmp_path_factory.mktemp("pki")
    subprocess.run(
        [ROOT / "scripts" / "pki.sh", pki],
        env={
            **os.environ,
            "EVCHARGING_ENV_FILE": os.devnull,
            "CENTRAL_HOST": "",
            "KAFKA_KEYSTORE_PASSWORD": "unit-test-password",
        },
        capture_output=True,
        check=True,
    )
    return pki / "ca.crt"


def test_the_ca_file_gives_a_verifying_context_trusting_it_alone(ca_file: Path) -> None:
    context = CentralTls(ca_file).context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    (trusted,) = context.get_ca_certs()
    assert "EVCharging project CA" in str(trusted["subject"])


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot be read (No such file or directory): copy the central's pki/ca.crt there"),
        ("", "holds no PEM certificate: copy the central's pki/ca.crt there"),
        ("junk", "holds no PEM certificate: copy the central's pki/ca.crt there"),
    ],
)
def test_a_ca_file_that_cannot_be_used_says_so(tmp_path: Path, content: str | None, said: str) -> None:
    path = tmp_path / "ca.crt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TlsSetupError) as refused:
        CentralTls(path).context()
    assert str(refused.value) == f"CENTRAL_TLS_CA={path} {said}"


# --- reported once, cleared when authenticated ----------------------------------------------


CLAIMED = Claimed(
    cp_id="CP-A001", credential="c" * 16, connection_id="c1", heartbeat_interval=1, heartbeat_timeout=3
)


class ClosesThenServes:
    """A stand-in central-auth: closes the first `closes` connections without a word
    (as the TLS port does to a plain client), then answers Claim and Heartbeat."""

    def __init__(self, closes: int) -> None:
        self.closes = closes
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closes > 0:
            self.closes -= 1
            await reader.read(4096)
            writer.close()
            return
        decoder = FrameDecoder()
        while data := await reader.read(4096):
            for frame in decoder.feed(data):
                request = from_frame(frame)
                if isinstance(request, Claim):
                    writer.write(to_frame(CLAIMED))
                elif isinstance(request, Heartbeat):
                    writer.write(to_frame(HeartbeatAck()))
        writer.close()


@pytest.mark.parametrize(("closes", "reported"), [(1, False), (3, True)])
def test_closed_without_an_answer_is_reported_the_second_time_in_a_row_and_cleared_on_authentication(
    closes: int, reported: bool
) -> None:
    """Once may be central-auth stopping; twice in a row is the set-up."""
    problems: list[str | None] = []

    async def scenario() -> tuple[AuthClient, int]:
        stand_in = ClosesThenServes(closes)
        port = await stand_in.start()
        client = AuthClient(
            ("127.0.0.1", port),
            enrolment_key="k" * 16,
            profile=CpProfile("Bench", Decimal("0.35")),
            backoff=Backoff(initial=0.01, maximum=0.05, jitter=0.01),
            on_problem=problems.append,
        )
        task = asyncio.create_task(client.run(lambda: EngineHealth.OK))
        try:
            async with asyncio.timeout(10):
                await client.wait_authenticated()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert stand_in.server is not None
            stand_in.server.close()
        return client, port

    client, port = asyncio.run(scenario())
    assert client.problem is None
    assert problems == ([explain_no_answer("127.0.0.1", port), None] if reported else [])
