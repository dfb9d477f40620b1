"""Credentials: random, stored hashed and salted, checked without leaking."""

from __future__ import annotations

from central_auth.credentials import hash_credential, new_charger_password, new_credential, verify_credential


def test_credentials_are_long_and_unique() -> None:
    made = {new_credential() for _ in range(100)}
    assert len(made) == 100
    assert all(len(credential) >= 43 for credential in made)


def test_a_charger_password_fits_ocpp_16_and_verifies_like_a_credential() -> None:
    made = {new_charger_password() for _ in range(100)}
    assert len(made) == 100
    assert {len(password.encode()) for password in made} == {20}  # OCPP 1.6: 16 to 20 bytes
    password = made.pop()
    assert verify_credential(password, hash_credential(password))


def test_the_right_credential_verifies_and_a_wrong_one_does_not() -> None:
    credential = new_credential()
    stored = hash_credential(credential)
    assert verify_credential(credential, stored)
    assert not verify_credential(credential + "x", stored)
    assert not verify_credential(new_credential(), stored)


def test_the_stored_form_is_salted_and_never_contains_the_credential() -> None:
    credential = new_credential()
    first, second = hash_credential(credential), hash_credential(credential)
    assert first != second
    assert credential not in first
    assert first.startswith("scrypt$")
    assert len(first) <= 255  # fits charging_points.credential_hash


def test_a_malformed_stored_value_refuses_instead_of_raising() -> None:
    for stored in ["", "plain", "scrypt$1$2$3$!!$!!", "bcrypt$x$y$z$a$b", "scrypt$x$8$1$AAAA$AAAA"]:
        assert not verify_credential("anything", stored)
