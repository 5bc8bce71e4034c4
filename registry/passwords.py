"""Password hashes (argon2id) and the password policy (R10-R12; Lum. 14.2, Per. 9 c5).

Pure logic: no clock and no storage. Every rule that depends on time takes ``now`` (a
timezone-aware UTC :class:`~datetime.datetime`), so that callers and tests control the clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from registry.errors import CentraleError
from registry.i18n import N_, _


@dataclass(frozen=True)
class HashParameters:
    """argon2id cost. The defaults suit a 2-core control-room PC: ~0.1-0.2 s and 64 MiB a hash
    (RFC 9106 "second recommended option", with the lanes matched to the cores)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 2

    def hasher(self) -> PasswordHasher:
        return _hasher(self)


@functools.lru_cache(maxsize=8)
def _hasher(params: HashParameters) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        type=Type.ID,
    )


DEFAULT_HASHING = HashParameters()


def hash_password(password: str, params: HashParameters = DEFAULT_HASHING) -> str:
    return params.hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False on mismatch or an unusable hash.

    The parameters are read from the hash itself, so old hashes keep verifying after a change
    of :class:`HashParameters`.
    """
    try:
        return DEFAULT_HASHING.hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, params: HashParameters = DEFAULT_HASHING) -> bool:
    """True when ``stored_hash`` was made with other parameters (rehash at the next sign-in)."""
    try:
        return params.hasher().check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


class PasswordRejected(CentraleError):
    """A new password breaks one or more rules; ``reasons`` lists every one (translated)."""

    title = N_("Password rejected")

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        lines = "\n".join(f"- {reason}" for reason in self.reasons)
        super().__init__(_("The new password does not meet these rules:") + "\n" + lines)


def character_classes(password: str) -> int:
    """How many of lower-case, upper-case, digits and symbols ``password`` uses."""
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    symbol = any(not c.isalnum() for c in password)
    return lower + upper + digit + symbol


@dataclass(frozen=True)
class PasswordPolicy:
    """The password and account rules; strict defaults, each one configurable."""

    min_length: int = 12
    max_length: int = 128  # argon2 takes any length; this only bounds the work an attacker asks
    #: how many of the four classes (lower, upper, digit, symbol) must appear
    min_classes: int = 3
    #: a new password must differ from the last ``history`` ones (the current one included)
    history: int = 5
    #: "automatic expiry every 3 months" (R11): forces a change at the next sign-in
    max_age: timedelta = timedelta(days=90)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    #: "disabled after 6 months unused" (R12); 180 days is never later than six calendar months
    idle_limit: timedelta = timedelta(days=180)
    hashing: HashParameters = field(default_factory=HashParameters)

    def problems(
        self, password: str, username: str, recent_hashes: Iterable[str] = ()
    ) -> list[str]:
        """Every rule ``password`` breaks, translated; empty when it is acceptable.

        ``recent_hashes``: the current hash first, then the previous ones, newest first; only
        the first ``history`` are considered.
        """
        reasons: list[str] = []
        if len(password) < self.min_length:
            reasons.append(
                _("at least {n} characters (this one has {length})").format(
                    n=self.min_length, length=len(password)
                )
            )
        if len(password) > self.max_length:
            reasons.append(_("at most {n} characters").format(n=self.max_length))
        found = character_classes(password)
        if found < self.min_classes:
            reasons.append(
                _("at least {n} kinds among lower-case letters, upper-case letters, digits "
                  "and symbols (this one has {found})").format(n=self.min_classes, found=found)
            )
        name = username.strip().casefold()
        if name and name in password.casefold():
            reasons.append(_("it must not contain the user name"))
        if self.history > 0:
            recent = list(recent_hashes)[: self.history]
            if any(verify_password(h, password) for h in recent):
                reasons.append(
                    _("it must differ from the last {n} passwords").format(n=self.history)
                )
        return reasons

    def check(self, password: str, username: str, recent_hashes: Iterable[str] = ()) -> None:
        """Raise :class:`PasswordRejected` listing every broken rule."""
        reasons = self.problems(password, username, recent_hashes)
        if reasons:
            raise PasswordRejected(reasons)

    def password_expired(self, changed_at: datetime, now: datetime) -> bool:
        """True from exactly ``max_age`` after the last change."""
        return now - changed_at >= self.max_age

    def expires_at(self, changed_at: datetime) -> datetime:
        return changed_at + self.max_age

    def idle_too_long(self, last_used: datetime, now: datetime) -> bool:
        """True from exactly ``idle_limit`` after the last use."""
        return now - last_used >= self.idle_limit

    def hash(self, password: str) -> str:
        return hash_password(password, self.hashing)

    def needs_rehash(self, stored_hash: str) -> bool:
        return needs_rehash(stored_hash, self.hashing)


DEFAULT_POLICY = PasswordPolicy()
