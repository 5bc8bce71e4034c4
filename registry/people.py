"""People and their accounts: the sign-in state machine (R10-R13), pure domain.

Every function takes a :class:`Person` and returns a new one (frozen, :func:`dataclasses.replace`)
together with the :class:`AuditEvent` values that happened, which the caller writes to the audit
trail and stores. Nothing here touches a database or the clock: ``now`` is always passed in
(timezone-aware UTC).

States: active, locked (``locked_until`` in the future), password to change (expired after
``max_age`` or set by someone else), disabled (``active`` false, with a reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.passwords import PasswordPolicy, verify_password
from registry.roles import Level


class DisabledReason(StrEnum):
    UNUSED = "unused"  # six months without a sign-in (R12)
    ROLE_LOST = "role_lost"  # the person no longer holds the role (R12)
    REVOKED = "revoked"  # disabled by whoever manages people

    @property
    def display_title(self) -> str:
        return _(_REASON_TITLES[self])


_REASON_TITLES: dict[DisabledReason, str] = {
    DisabledReason.UNUSED: N_("not used for six months"),
    DisabledReason.ROLE_LOST: N_("the person no longer holds the role"),
    DisabledReason.REVOKED: N_("disabled by the supervisor"),
}


@dataclass(frozen=True)
class AuditEvent:
    """Something that happened to an account; the caller appends it to the audit trail."""

    action: str
    username: str
    details: Mapping[str, str] = field(default_factory=dict)


# Audit actions.
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_REFUSED = "login_refused"
ACCOUNT_LOCKED = "account_locked"
ACCOUNT_DISABLED = "account_disabled"
PASSWORD_CHANGED = "password_changed"
PASSWORD_CHANGE_REQUIRED = "password_change_required"
PASSWORD_REHASHED = "password_rehashed"


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    role: str
    level: Level
    password_hash: str
    password_changed_at: datetime
    active: bool = True
    #: previous hashes, newest first (the current one is ``password_hash``)
    password_history: tuple[str, ...] = ()
    failed_attempts: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    disabled_reason: DisabledReason | None = None
    #: set when someone else chose the password: the person changes it at the next sign-in
    must_change_password: bool = False

    def recent_hashes(self) -> tuple[str, ...]:
        """The current hash, then the previous ones, newest first."""
        return (self.password_hash, *self.password_history)

    def last_used(self) -> datetime:
        """The last sign-in, or the creation/last password set when never signed in."""
        return self.last_login_at or self.password_changed_at


class Outcome(StrEnum):
    OK = "ok"
    MUST_CHANGE_PASSWORD = "must_change_password"
    WRONG_PASSWORD = "wrong_password"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class SignInOutcome:
    outcome: Outcome
    person: Person
    events: tuple[AuditEvent, ...] = ()
    attempts_left: int | None = None
    locked_until: datetime | None = None
    disabled_reason: DisabledReason | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def message(self) -> str:
        """What to tell the person at the sign-in screen, translated."""
        if self.outcome is Outcome.OK:
            return _("Signed in.")
        if self.outcome is Outcome.MUST_CHANGE_PASSWORD:
            return _("Your password has expired or was set by someone else: choose a new one.")
        if self.outcome is Outcome.WRONG_PASSWORD:
            return _("Wrong user name or password ({n} attempts left).").format(
                n=self.attempts_left
            )
        if self.outcome is Outcome.LOCKED:
            until = self.locked_until.strftime("%H:%M UTC") if self.locked_until else ""
            return _("Too many wrong passwords: the account is locked until {until}.").format(
                until=until
            )
        reason = self.disabled_reason.display_title if self.disabled_reason else ""
        return _("The account is disabled ({reason}): ask the supervisor.").format(
            reason=reason
        )


class AccountDisabled(CentraleError):
    title = N_("Account disabled")


class WrongCurrentPassword(CentraleError):
    title = N_("Wrong password")


def create_person(
    username: str,
    full_name: str,
    role: str,
    level: Level,
    password: str,
    policy: PasswordPolicy,
    now: datetime,
) -> Person:
    """A new account whose first password, chosen by someone else, must be changed at sign-in.

    Raises :class:`~registry.passwords.PasswordRejected` when the password breaks the policy.
    """
    policy.check(password, username)
    return Person(
        username=username,
        full_name=full_name,
        role=role,
        level=level,
        password_hash=policy.hash(password),
        password_changed_at=now,
        must_change_password=True,
    )


def record_failure(
    person: Person, policy: PasswordPolicy, now: datetime
) -> tuple[Person, list[AuditEvent]]:
    """A wrong password: count it, and lock the account at ``max_failures``."""
    failures = person.failed_attempts + 1
    left = max(policy.max_failures - failures, 0)
    events = [AuditEvent(LOGIN_FAILED, person.username, {"attempts_left": str(left)})]
    if failures >= policy.max_failures:
        until = now + policy.lockout
        events.append(AuditEvent(ACCOUNT_LOCKED, person.username, {"until": until.isoformat()}))
        return replace(person, failed_attempts=0, locked_until=until), events
    return replace(person, failed_attempts=failures), events


def record_success(person: Person, now: datetime) -> tuple[Person, list[AuditEvent]]:
    """A completed sign-in: reset the counter and the lock, remember when."""
    updated = replace(person, failed_attempts=0, locked_until=None, last_login_at=now)
    return updated, [AuditEvent(LOGIN, person.username)]


def disable(
    person: Person, reason: DisabledReason
) -> tuple[Person, list[AuditEvent]]:
    """Disable the account (no events when it already is)."""
    if not person.active:
        return person, []
    updated = replace(person, active=False, disabled_reason=reason)
    return updated, [AuditEvent(ACCOUNT_DISABLED, person.username, {"reason": str(reason)})]


def enable(person: Person) -> tuple[Person, list[AuditEvent]]:
    """Re-enable a disabled account; the person must choose a new password at sign-in."""
    if person.active:
        return person, []
    updated = replace(
        person,
        active=True,
        disabled_reason=None,
        failed_attempts=0,
        locked_until=None,
        must_change_password=True,
    )
    return updated, [AuditEvent("account_enabled", person.username)]


def is_locked(person: Person, now: datetime) -> bool:
    return person.locked_until is not None and now < person.locked_until


def check_sign_in(
    person: Person, password: str, policy: PasswordPolicy, now: datetime
) -> SignInOutcome:
    """Run one sign-in attempt through the account's state machine.

    Order: disabled, unused too long (disables now), locked, password, then expiry. A lock that
    has run out is cleared with its counter.
    """
    events: list[AuditEvent] = []
    if person.active and policy.idle_too_long(person.last_used(), now):
        person, disabled = disable(person, DisabledReason.UNUSED)
        events += disabled
    if not person.active:
        events.append(AuditEvent(LOGIN_REFUSED, person.username, {"reason": "disabled"}))
        return SignInOutcome(
            Outcome.DISABLED, person, tuple(events), disabled_reason=person.disabled_reason
        )
    if is_locked(person, now):
        events.append(AuditEvent(LOGIN_REFUSED, person.username, {"reason": "locked"}))
        return SignInOutcome(
            Outcome.LOCKED, person, tuple(events), locked_until=person.locked_until
        )
    if person.locked_until is not None:
        person = replace(person, locked_until=None, failed_attempts=0)

    if not verify_password(person.password_hash, password):
        person, failed = record_failure(person, policy, now)
        events += failed
        if person.locked_until is not None:
            return SignInOutcome(
                Outcome.LOCKED, person, tuple(events), locked_until=person.locked_until
            )
        left = policy.max_failures - person.failed_attempts
        return SignInOutcome(Outcome.WRONG_PASSWORD, person, tuple(events), attempts_left=left)

    if policy.needs_rehash(person.password_hash):
        person = replace(person, password_hash=policy.hash(password))
        events.append(AuditEvent(PASSWORD_REHASHED, person.username))
    if person.must_change_password or policy.password_expired(person.password_changed_at, now):
        person = replace(person, failed_attempts=0)
        events.append(AuditEvent(PASSWORD_CHANGE_REQUIRED, person.username))
        return SignInOutcome(Outcome.MUST_CHANGE_PASSWORD, person, tuple(events))
    person, succeeded = record_success(person, now)
    events += succeeded
    return SignInOutcome(Outcome.OK, person, tuple(events))


def change_password(
    person: Person, old: str, new: str, policy: PasswordPolicy, now: datetime
) -> tuple[Person, list[AuditEvent]]:
    """The person changes their own password (R11).

    Raises :class:`AccountDisabled`, :class:`WrongCurrentPassword`, or
    :class:`~registry.passwords.PasswordRejected` listing every rule ``new`` breaks.
    """
    if not person.active:
        raise AccountDisabled(_("The account is disabled: ask the supervisor."))
    if not verify_password(person.password_hash, old):
        raise WrongCurrentPassword(_("The current password is wrong."))
    policy.check(new, person.username, person.recent_hashes())
    keep = max(policy.history - 1, 0)
    updated = replace(
        person,
        password_hash=policy.hash(new),
        password_changed_at=now,
        password_history=person.recent_hashes()[:keep],
        must_change_password=False,
    )
    return updated, [AuditEvent(PASSWORD_CHANGED, person.username)]
