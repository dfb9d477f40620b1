"""The monitor client's pure parts: the identification plan and the credential file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evcharging.auth_client import (
    AuthClient,
    AuthRefused,
    FileCredentialStore,
    RetryLater,
    Step,
    first_step,
    step_after_refusal,
)
from evcharging.wire import Error, Reason


def _refusal(reason: Reason) -> Error:
    return Error(reason=reason, detail="")


@pytest.mark.parametrize(
    ("explicit", "has_credential", "step"),
    [
        (True, True, Step.AUTHENTICATE),
        (True, False, Step.REGISTER),
        (False, True, Step.AUTHENTICATE),
        (False, False, Step.CLAIM),
    ],
)
def test_the_first_step_depends_on_what_the_cp_knows(
    explicit: bool, has_credential: bool, step: Step
) -> None:
    assert first_step(explicit, has_credential) is step


def test_a_hand_run_cp_forgotten_by_the_server_registers_again() -> None:
    for reason in (Reason.UNKNOWN_CP, Reason.NOT_ENROLLED):
        assert step_after_refusal(True, Step.AUTHENTICATE, _refusal(reason)) is Step.REGISTER


@pytest.mark.parametrize("reason", [Reason.UNKNOWN_CP, Reason.NOT_ENROLLED])
def test_a_cp_that_may_not_enrol_forgotten_by_the_server_is_refused(reason: Reason) -> None:
    with pytest.raises(AuthRefused) as refused:
        step_after_refusal(True, Step.AUTHENTICATE, _refusal(reason), may_enrol=False)
    assert refused.value.reason is reason


def test_a_cp_without_an_enrolment_key_must_bring_its_id_and_credential() -> None:
    with pytest.raises(ValueError, match="enrolment key"):
        AuthClient(("127.0.0.1", 7000), enrolment_key=None, cp_id="OCPP01")
    with pytest.raises(ValueError, match="profile"):
        AuthClient(("127.0.0.1", 7000), enrolment_key="k" * 32)


def test_a_replica_whose_old_id_went_elsewhere_claims_a_new_one() -> None:
    for reason in (Reason.BAD_CREDENTIAL, Reason.UNKNOWN_CP, Reason.NOT_ENROLLED):
        assert step_after_refusal(False, Step.AUTHENTICATE, _refusal(reason)) is Step.CLAIM


@pytest.mark.parametrize("reason", [Reason.ALREADY_CONNECTED, Reason.SERVER_BUSY, Reason.UNAVAILABLE])
def test_transient_refusals_mean_retry_later(reason: Reason) -> None:
    with pytest.raises(RetryLater):
        step_after_refusal(False, Step.CLAIM, _refusal(reason))


@pytest.mark.parametrize(
    ("explicit", "step", "reason"),
    [
        (True, Step.AUTHENTICATE, Reason.BAD_CREDENTIAL),
        (True, Step.REGISTER, Reason.ALREADY_REGISTERED),
        (True, Step.REGISTER, Reason.BAD_ENROLMENT_KEY),
        (False, Step.CLAIM, Reason.BAD_ENROLMENT_KEY),
        (True, Step.REGISTER, Reason.RESERVED_ID),
    ],
)
def test_refusals_no_retry_can_cure_end_the_client(explicit: bool, step: Step, reason: Reason) -> None:
    with pytest.raises(AuthRefused) as refused:
        step_after_refusal(explicit, step, _refusal(reason))
    assert refused.value.reason is reason


def test_the_credential_file_round_trips_privately(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credential.json"
    store = FileCredentialStore(path)
    assert store.load("CP001") is None
    store.save("CP001", "secret-credential")
    assert store.load("CP001") == "secret-credential"
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(path.parent.iterdir()) == [path], "a temporary file was left behind"


def test_a_credential_file_of_another_cp_or_a_broken_one_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    FileCredentialStore(path).save("CP001", "secret")
    assert FileCredentialStore(path).load("CP002") is None
    path.write_text("{not json")
    assert FileCredentialStore(path).load("CP001") is None
