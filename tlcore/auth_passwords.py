"""Password hashes for the users file: salted PBKDF2-HMAC-SHA256, stored as
``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` and compared in constant time (:mod:`tlcore.auth`)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256; older hashes are re-hashed at the next sign-in


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False for a wrong password or a malformed entry."""
    try:
        algo, iterations, salt, digest = encoded.split("$")
        if algo != "pbkdf2_sha256":
            return False
        mine = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), int(iterations))
        return hmac.compare_digest(mine.hex(), digest)
    except (ValueError, AttributeError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True for a hash made with fewer than ``ITERATIONS`` (or another scheme): re-hash at the next sign-in."""
    try:
        algo, iterations, _, _ = encoded.split("$")
        return algo != "pbkdf2_sha256" or int(iterations) < ITERATIONS
    except (ValueError, AttributeError):
        return True
