"""central-auth's TLS listener, apart from sockets: its certificate, and what a failed
handshake is called and how often it is told.

The TLS port serves the very protocol of the plain one, for monitors on other hosts;
its certificate and key come from the project CA (scripts/pki.sh). Without them the
listener is off (a single-host stack needs only the plain port); with files that
cannot be used, central-auth refuses to start and says which and why.
"""

from __future__ import annotations

import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CERT = Path("/etc/evcharging/tls/auth/central.crt")
DEFAULT_KEY = Path("/etc/evcharging/tls/auth/central.key")

NOT_TLS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LENGTH_MISMATCH",
    }
)
"""OpenSSL's reasons for bytes that are not a TLS handshake at all."""


class TlsSetupError(Exception):
    """The certificate or key cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path = DEFAULT_CERT
    key: Path = DEFAULT_KEY

    def absent(self) -> bool:
        return not _exists(self.cert) and not _exists(self.key)


def _exists(path: Path) -> bool:
    """True also when the folder cannot be searched: then reading it says so."""
    try:
        return path.exists()
    except OSError:
        return True


def server_context(files: TlsFiles) -> ssl.SSLContext | None:
    """The TLS context for the listener (TLS 1.2 or later); None when neither file exists.

    Raises TlsSetupError naming the culprit: one file without the other, a file that
    cannot be read, a certificate or key that is not PEM, a key of another certificate.
    """
    if files.absent():
        return None
    cert_pem = _read("AUTH_TLS_CERT", files.cert)
    key_pem = _read("AUTH_TLS_KEY", files.key)
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise TlsSetupError(f"AUTH_TLS_CERT={files.cert} is not a PEM certificate")
    if b"PRIVATE KEY-----" not in key_pem:
        raise TlsSetupError(f"AUTH_TLS_KEY={files.key} is not a PEM private key")
    if b"ENCRYPTED" in key_pem:
        raise TlsSetupError(f"AUTH_TLS_KEY={files.key} is encrypted; central-auth needs it unencrypted")
    try:  # parse the certificate on its own first, to tell a broken one from a wrong key
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=cert_pem.decode("latin-1"))
    except ssl.SSLError as error:
        raise TlsSetupError(f"AUTH_TLS_CERT={files.cert} is not a valid certificate: {_why(error)}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except ssl.SSLError as error:
        if _reason(error) == "KEY_VALUES_MISMATCH":
            raise TlsSetupError(
                f"AUTH_TLS_KEY={files.key} is not the key of AUTH_TLS_CERT={files.cert}"
            ) from None
        raise TlsSetupError(f"AUTH_TLS_KEY={files.key} is not a valid private key: {_why(error)}") from None
    except OSError as error:  # changed between the reads above and now
        raise TlsSetupError(f"AUTH_TLS_CERT/AUTH_TLS_KEY cannot be read: {error}") from None
    return context


def _read(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsSetupError(
            f"{variable}={path} does not exist, but its partner does (scripts/pki.sh makes both)"
        ) from None
    except OSError as error:
        raise TlsSetupError(f"{variable}={path} cannot be read: {error.strerror or error}") from None


def _why(error: BaseException) -> str:
    """OpenSSL's reason in words: WRONG_VERSION_NUMBER -> "wrong version number"."""
    if _reason(error):
        return _reason(error).replace("_", " ").lower()
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    return re.sub(r"^\[[^]]*\]\s*|\s*\(_ssl\.c:\d+\)$", "", text)


def _reason(error: BaseException) -> str:
    """OpenSSL's reason code (WRONG_VERSION_NUMBER...), empty when there is none."""
    return str(getattr(error, "reason", None) or "") if isinstance(error, ssl.SSLError) else ""


def describe_handshake_failure(error: BaseException, timeout: float) -> str:
    """Why a TLS handshake failed, in a phrase for the log line "TLS handshake failed: ..."."""
    if isinstance(error, TimeoutError):
        return f"no handshake within {timeout:g} s"
    reason = _reason(error)
    if reason in NOT_TLS:
        return (
            f"not TLS ({_why(error)}): a client without CENTRAL_TLS_CA on the TLS port, or another protocol"
        )
    if "ALERT" in reason:
        return f"the client broke it off ({_why(error)}): does it have the project CA in CENTRAL_TLS_CA?"
    if isinstance(error, ssl.SSLEOFError | ConnectionError):
        return (
            "the client left during the handshake (as one does that does not trust the "
            "certificate, or finds another name in it)"
        )
    if isinstance(error, ssl.SSLError):
        return _why(error)
    return str(error) or type(error).__name__


class FailureLog:
    """Decides which handshake failures to log: the first of each kind from each peer
    host, then the same again only after `quiet` seconds (with how many were not told).

    A monitor retrying with the wrong CA every 15 s thus writes one line, not one per
    attempt, and a scan of the port cannot flood the log. Bounded: at most `capacity`
    peers are remembered (the oldest forgotten first).
    """

    def __init__(
        self, quiet: float = 600.0, capacity: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._quiet = quiet
        self._capacity = capacity
        self._clock = clock
        self._told: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def should_tell(self, peer_host: str, what: str) -> int | None:
        """None: stay quiet; otherwise tell, and this many like it went untold since."""
        key = (peer_host, what)
        now = self._clock()
        told = self._told.get(key)
        if told is not None and now - told[0] < self._quiet:
            self._told[key] = (told[0], told[1] + 1)
            return None
        self._told[key] = (now, 0)
        self._told.move_to_end(key)
        while len(self._told) > self._capacity:
            self._told.popitem(last=False)
        return told[1] if told is not None else 0
