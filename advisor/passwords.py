"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B and OWASP ASVS: 8 to 128 characters, no composition rules, and
passwords that are common or trivially guessable (zxcvbn's list of 30,000 common passwords and its
guess estimate, which also catches the user's own email and name) are refused.
"""
from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn

from .errors import DomainError

MIN_LENGTH = 8
MAX_LENGTH = 128


class WeakPassword(DomainError):
    pass


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_KIB"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, still spend the time a check takes, so timing tells nothing."""
    hasher = _hasher()
    if password_hash is None:
        hasher.hash(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def check_policy(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword with the reason when the password may not be used."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    inputs = [part for value in user_inputs for part in (value, *value.replace("@", " ").split()) if part]
    result = zxcvbn(password, user_inputs=inputs, max_length=MAX_LENGTH)  # its own default stops at 72
    if result["score"] < 2:
        warning = result["feedback"].get("warning") or "This password is too easy to guess."
        raise WeakPassword(f"{warning.rstrip('.')}. Choose a longer or less common password.")
