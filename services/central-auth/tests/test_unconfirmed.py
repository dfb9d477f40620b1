"""Which unused credentials may be reissued, and for how long."""

from __future__ import annotations

from central_auth.unconfirmed import UnconfirmedCredentials


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_unused_credential_is_reissuable_within_the_window_only() -> None:
    clock = Clock()
    credentials = UnconfirmedCredentials(window=10, clock=clock)
    credentials.issued("CP1", "hash-1")
    clock.now = 9.9
    assert credentials.reissuable("CP1") == "hash-1"
    clock.now = 10.0
    assert credentials.reissuable("CP1") is None


def test_a_used_credential_is_never_reissuable() -> None:
    credentials = UnconfirmedCredentials(window=10, clock=Clock())
    credentials.issued("CP1", "hash-1")
    credentials.confirmed("CP1")
    assert credentials.reissuable("CP1") is None
    assert credentials.reissuable("CP2") is None


def test_reissuing_restarts_the_window_and_expired_entries_are_forgotten() -> None:
    clock = Clock()
    credentials = UnconfirmedCredentials(window=10, clock=clock)
    credentials.issued("CP1", "hash-1")
    credentials.issued("CP2", "hash-2")
    clock.now = 8
    credentials.issued("CP1", "hash-1b")
    clock.now = 12
    credentials.issued("CP3", "hash-3")
    assert credentials.reissuable("CP1") == "hash-1b"
    assert credentials.reissuable("CP2") is None
    assert len(credentials) == 2, "the expired CP2 was not forgotten"
