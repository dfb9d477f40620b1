"""TLS with central-auth, as its clients see it: the context that trusts only the
project CA, and one sentence for each way a handshake fails, saying what to change.

Shared by the monitor's auth client (auth_client) and `make doctor` (doctor), which
must explain a failure the same way. Standard library only, so any image can load it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


class TlsSetupError(ValueError):
    """The CA file cannot be used; the message says why, naming CENTRAL_TLS_CA."""


@dataclass(frozen=True)
class CentralTls:
    """How to reach central-auth over TLS: the project CA to verify its certificate with
    (the central's pki/ca.crt, made by scripts/pki.sh)."""

    ca_file: Path

    def context(self) -> ssl.SSLContext:
        """A client context trusting only this CA, TLS 1.2 or later, host names checked.

        Raises TlsSetupError when the file is missing, unreadable or not a certificate."""
        try:
            pem = self.ca_file.read_text(errors="replace")
        except OSError as error:
            raise TlsSetupError(
                f"CENTRAL_TLS_CA={self.ca_file} cannot be read ({error.strerror or error}): "
                "copy the central's pki/ca.crt there"
            ) from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # certificate and host name required
        try:
            if "-----BEGIN CERTIFICATE-----" not in pem:
                raise ValueError("no certificate")
            context.load_verify_locations(cadata=pem)
        except (ssl.SSLError, ValueError):
            raise TlsSetupError(
                f"CENTRAL_TLS_CA={self.ca_file} holds no PEM certificate: copy the central's pki/ca.crt there"
            ) from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


WRONG_CA = frozenset({2, 7, 18, 19, 20, 21, 24, 32})
"""X509_V_ERR_* codes meaning the chain does not lead to the CA we trust."""
WRONG_NAME = frozenset({62, 64})
"""X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH."""
OUT_OF_DATE = frozenset({9, 10})
"""X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED."""
NOT_TLS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LENGTH_MISMATCH",
        "UNEXPECTED_RECORD",
    }
)
"""OpenSSL's reasons for an answer that is not TLS at all."""


def explain_tls_failure(error: BaseException, host: str, port: int, ca_file: Path, timeout: float) -> str:
    """One sentence for a failed TLS handshake with central-auth at host:port."""
    where = f"central-auth at {host}:{port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        code = getattr(error, "verify_code", None)
        if code in WRONG_CA:
            return (
                f"{where} presented a certificate not signed by the CA in CENTRAL_TLS_CA ({ca_file}): "
                "copy the central's pki/ca.crt"
            )
        if code in WRONG_NAME:
            return (
                f"{where} presented a certificate that is not valid for the name {host!r}: put a name it "
                f"has in CENTRAL_ADDRESS, or set CENTRAL_HOST={host} on the central and re-issue its "
                "certificate (make pki), then restart central-auth"
            )
        if code in OUT_OF_DATE:
            return (
                f"{where} presented a certificate out of its validity dates "
                f"({getattr(error, 'verify_message', 'expired')}): check both clocks, or re-issue it "
                "on the central (scripts/pki.sh)"
            )
        return (
            f"{where} presented a certificate that the CA in CENTRAL_TLS_CA ({ca_file}) does not "
            f"accept: {getattr(error, 'verify_message', None) or error}"
        )
    if isinstance(error, ssl.SSLError) and getattr(error, "reason", None) in NOT_TLS:
        return (
            f"the TLS handshake with {where} failed ({_ssl_why(error)}): that port does not speak TLS; "
            "is CENTRAL_ADDRESS the plain port? give the central's TLS port (7443 unless moved), "
            "or unset CENTRAL_TLS_CA inside the central's network"
        )
    if isinstance(error, TimeoutError):
        return f"{where} did not complete a TLS handshake within {timeout:g} s"
    if isinstance(error, ssl.SSLEOFError | ConnectionError):
        return (
            f"{where} closed the connection during the TLS handshake: is CENTRAL_ADDRESS its TLS port? "
            "(or it is over its connection cap)"
        )
    if isinstance(error, ssl.SSLError):
        return f"the TLS handshake with {where} failed: {_ssl_why(error)}"
    return f"the TLS handshake with {where} failed: {error or type(error).__name__}"


def explain_no_answer(host: str, port: int) -> str:
    """A plain connection closed, or answered with something else than frames, before
    the first answer: what a TLS port does with a client that does not speak TLS."""
    return (
        f"central-auth at {host}:{port} closed the connection without answering: "
        "is CENTRAL_ADDRESS the TLS port? set CENTRAL_TLS_CA to the central's pki/ca.crt"
    )


def _ssl_why(error: ssl.SSLError) -> str:
    reason = getattr(error, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    return str(error.args[1]) if len(error.args) > 1 else str(error)
