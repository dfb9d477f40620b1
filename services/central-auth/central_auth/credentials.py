"""CP credentials: how they are made, stored and checked. Pure functions.

A credential is 32 random bytes (URL-safe base64), made by the server, never
chosen by a person. It is stored as a salted scrypt hash (stdlib hashlib, so no
native dependency in the image), with its parameters in the stored string so
they can be raised later without invalidating old hashes.

Why such a light work factor (n=2**10, r=8: 1 MiB of memory per check): a slow hash
defends guessable secrets, and these have 256 bits of entropy, which no work
factor makes safer. What the hash buys is that a leaked `charging_points` table
cannot be replayed as credentials. A light factor keeps thousands of CPs
re-authenticating at once after a restart from queueing behind the hash
(`make bench` times it; see docs/performance.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCHEME = "scrypt"
_N, _R, _P = 2**10, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def new_credential() -> str:
    return secrets.token_urlsafe(32)


CHARGER_PASSWORD_BYTES = 15
"""An OCPP charger's credential is its HTTP Basic-authentication password, which OCPP 1.6
caps at 20 bytes: 15 random bytes make 20 URL-safe characters, 120 bits that no
guessing reaches either."""


def new_charger_password() -> str:
    return secrets.token_urlsafe(CHARGER_PASSWORD_BYTES)


def hash_credential(credential: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash base64: fits charging_points.credential_hash."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    key = hashlib.scrypt(credential.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES)
    return "$".join((_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(key)))


def verify_credential(credential: str, stored: str) -> bool:
    """True when `credential` is the one `stored` was made from. A malformed stored
    value verifies nothing rather than raising: it is a refusal, not a crash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = hashlib.scrypt(
            credential.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
