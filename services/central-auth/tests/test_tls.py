"""The TLS listener's pure parts: which certificate files are usable and what is said
when they are not, what a failed handshake is called, and how often it is told."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from central_auth.settings import AuthSettings
from central_auth.tls import FailureLog, TlsFiles, TlsSetupError, describe_handshake_failure, server_context
from tests.support.pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("other-pki"))


def _setup_error(cert: Path, key: Path) -> str:
    with pytest.raises(TlsSetupError) as refused:
        server_context(TlsFiles(cert, key))
    return str(refused.value)


def test_without_both_files_the_listener_is_off(tmp_path: Path) -> None:
    assert server_context(TlsFiles(tmp_path / "central.crt", tmp_path / "central.key")) is None


def test_the_certificate_of_scripts_pki_serves_tls_1_2_or_later(pki: Path) -> None:
    context = server_context(TlsFiles(pki / "central.crt", pki / "central.key"))
    assert context is not None
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_one_file_without_the_other_is_an_error_naming_it(pki: Path, tmp_path: Path) -> None:
    said = _setup_error(pki / "central.crt", tmp_path / "central.key")
    assert said == f"AUTH_TLS_KEY={tmp_path / 'central.key'} does not exist, but its partner does " + (
        "(scripts/pki.sh makes both)"
    )


def test_an_unreadable_file_says_so(pki: Path, tmp_path: Path) -> None:
    assert (
        _setup_error(tmp_path, pki / "central.key")
        == f"AUTH_TLS_CERT={tmp_path} cannot be read: Is a directory"
    )


@pytest.mark.parametrize(
    ("which", "content", "said"),
    [
        ("cert", "junk\n", "AUTH_TLS_CERT={cert} is not a PEM certificate"),
        ("key", "junk\n", "AUTH_TLS_KEY={key} is not a PEM private key"),
        (
            "cert",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
            "AUTH_TLS_CERT={cert} is not a valid certificate",
        ),
        (
            "key",
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
            "AUTH_TLS_KEY={key} is not a valid private key",
        ),
        (
            "key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "AUTH_TLS_KEY={key} is encrypted; central-auth needs it unencrypted",
        ),
    ],
)
def test_an_invalid_file_says_which_and_why(
    pki: Path, tmp_path: Path, which: str, content: str, said: str
) -> None:
    cert, key = tmp_path / "central.crt", tmp_path / "central.key"
    shutil.copy(pki / "central.crt", cert)
    shutil.copy(pki / "central.key", key)
    (cert if which == "cert" else key).write_text(content)
    assert _setup_error(cert, key).startswith(said.format(cert=cert, key=key))


def test_a_key_of_another_certificate_says_so(pki: Path, other_pki: Path) -> None:
    cert, key = pki / "central.crt", other_pki / "central.key"
    assert _setup_error(cert, key) == f"AUTH_TLS_KEY={key} is not the key of AUTH_TLS_CERT={cert}"


def _ssl_error(reason: str, cls: type[ssl.SSLError] = ssl.SSLError) -> ssl.SSLError:
    error = cls(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')} (_ssl.c:1006)")
    error.reason = reason  # set by OpenSSL on real ones
    return error


@pytest.mark.parametrize(
    ("error", "phrase"),
    [
        (TimeoutError(), "no handshake within 10 s"),
        (
            _ssl_error("WRONG_VERSION_NUMBER"),
            "not TLS (wrong version number): a client without CENTRAL_TLS_CA on the TLS port",
        ),
        (_ssl_error("HTTP_REQUEST"), "not TLS (http request)"),
        (
            _ssl_error("TLSV1_ALERT_UNKNOWN_CA"),
            "the client broke it off (tlsv1 alert unknown ca): does it have the project CA",
        ),
        (ConnectionResetError(), "the client left during the handshake"),
        (_ssl_error("UNEXPECTED_EOF_WHILE_READING", ssl.SSLEOFError), "the client left during the handshake"),
        (_ssl_error("UNSUPPORTED_PROTOCOL"), "unsupported protocol"),
    ],
)
def test_a_failed_handshake_is_named_in_a_phrase(error: BaseException, phrase: str) -> None:
    assert describe_handshake_failure(error, 10.0).startswith(phrase)


def test_handshake_failures_are_told_once_per_kind_and_peer_then_again_after_a_quiet_while() -> None:
    now = [0.0]
    failures = FailureLog(quiet=600.0, clock=lambda: now[0])
    assert failures.should_tell("10.0.0.5", "not TLS") == 0
    assert failures.should_tell("10.0.0.5", "not TLS") is None
    assert failures.should_tell("10.0.0.5", "not TLS") is None
    assert failures.should_tell("10.0.0.6", "not TLS") == 0, "another peer"
    assert failures.should_tell("10.0.0.5", "no handshake") == 0, "another kind"
    now[0] = 601.0
    assert failures.should_tell("10.0.0.5", "not TLS") == 2, "told again, with how many went untold"
    assert failures.should_tell("10.0.0.5", "not TLS") is None


def test_the_failure_log_remembers_a_bounded_number_of_peers() -> None:
    failures = FailureLog(capacity=2, clock=lambda: 0.0)
    for peer in ("a", "b", "c"):
        assert failures.should_tell(peer, "x") == 0
    assert failures.should_tell("a", "x") == 0, "the oldest was forgotten"
    assert failures.should_tell("c", "x") is None


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    monkeypatch.setenv("CP_ENROLMENT_KEY", "k" * 16)
    return monkeypatch


def test_the_tls_listener_defaults_to_7443_and_the_files_pki_setup_installs(
    environment: pytest.MonkeyPatch,
) -> None:
    settings = AuthSettings.load([])
    assert settings.tls_port == 7443
    assert settings.tls == TlsFiles(
        Path("/etc/evcharging/tls/auth/central.crt"), Path("/etc/evcharging/tls/auth/central.key")
    )


def test_the_tls_settings_come_from_the_environment(environment: pytest.MonkeyPatch, pki: Path) -> None:
    environment.setenv("AUTH_TLS_PORT", "8443")
    environment.setenv("AUTH_TLS_CERT", str(pki / "central.crt"))
    environment.setenv("AUTH_TLS_KEY", str(pki / "central.key"))
    settings = AuthSettings.load([])
    assert (settings.tls_port, settings.tls) == (8443, TlsFiles(pki / "central.crt", pki / "central.key"))


def test_one_port_cannot_serve_both_when_tls_is_on(environment: pytest.MonkeyPatch, pki: Path) -> None:
    environment.setenv("AUTH_TLS_CERT", str(pki / "central.crt"))
    environment.setenv("AUTH_TLS_KEY", str(pki / "central.key"))
    with pytest.raises(SystemExit, match="AUTH_TLS_PORT=7443 is the plain port too"):
        AuthSettings.load(["7443"])
