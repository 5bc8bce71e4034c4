"""Shared parts of the accounts service: errors, results, user-name rules and the helpers
that load a person, run the state machine and write its events. See registry/accounts.py
for the choices; this module only keeps that one short."""

from __future__ import annotations

import re
import secrets
import string
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from registry.audit import AuditTrail
from registry.clock import utc_now
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.passwords import PasswordPolicy
from registry.people import (
    LOGIN_FAILED,
    AuditEvent,
    Outcome,
    Person,
    SignInOutcome,
    check_sign_in,
)
from registry.roles import DEFAULT_ROLES, Level, Permission, Role, role_named
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore

INIT_ACTOR: Final = "centrale-init"
SYSTEM_ACTOR: Final = "system"
DEMO_ACTOR: Final = "centrale-demo"
RESERVED_NAMES: Final = frozenset({INIT_ACTOR, SYSTEM_ACTOR, DEMO_ACTOR})

USERNAME_RE: Final = re.compile(r"[a-z0-9._-]{3,32}")
MAX_FULL_NAME: Final = 100
#: phantom accounts remembered for the unknown-user lockout (bounded: typed names are input)
MAX_PHANTOMS: Final = 1000

# Audit actions written here (the state machine's are in registry.people).
LOGOUT = "logout"
SESSION_LOCKED = "session_locked"
SESSION_UNLOCKED = "session_unlocked"
COSIGNED = "cosigned"
COSIGN_REFUSED = "cosign_refused"
SIGNATURE_FAILED = "signature_failed"
ACCOUNT_CREATED = "account_created"
ROLE_CHANGED = "role_changed"
PASSWORD_RESET = "password_reset"
MANAGEMENT_REFUSED = "management_refused"

#: One account per default role for the demo: (username, full name, role, password).
#: Fixed so that the demo's sign-in screen can list them on every run.
DEMO_ACCOUNTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("anna", "Anna Bianchi", "operatore", "Valdemo-Oper-2025"),
    ("bruno", "Bruno Esposito", "operatore_esperto", "Valdemo-Espe-2025"),
    ("carla", "Carla Ferri", "supervisore", "Valdemo-Supe-2025"),
    ("dario", "Dario Greco", "tecnico", "Valdemo-Tecn-2025"),
    ("elena", "Elena Longo", "amministratore", "Valdemo-Ammi-2025"),
)


class InvalidUsername(CentraleError):
    title = N_("Invalid user name")


class UsernameTaken(CentraleError):
    title = N_("User name taken")


class UnknownPerson(CentraleError):
    title = N_("Unknown person")


class AccountLocked(CentraleError):
    title = N_("Account locked")


class SessionEnded(CentraleError):
    """The session was ended meanwhile (sign-out elsewhere, account disabled)."""

    title = N_("Session ended")


class ManagementRefused(CentraleError):
    """A change to people that the rules forbid whoever asks (self-disable, last supervisor,
    an amministratore touching a supervisor)."""

    title = N_("Not allowed")


class AlreadyInitialised(CentraleError):
    title = N_("Already initialised")


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    #: what to tell the person at the sign-in screen, translated
    message: str
    #: the open session; ``None`` unless someone is signed in
    session: Session | None = None
    #: a maintenance-only person gave the right password: an operator must co-sign (R14)
    cosigner_required: bool = False
    attempts_left: int | None = None


@dataclass(frozen=True)
class UnlockResult:
    unlocked: bool
    message: str
    #: the session ended (account locked out or disabled): back to the sign-in screen
    signed_out: bool = False
    attempts_left: int | None = None


def validate_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username) or username in RESERVED_NAMES:
        raise InvalidUsername(
            _("{name} is not a valid user name: 3 to 32 lower-case letters, digits, '.', '_' "
              "or '-' (and not one of {reserved}).").format(
                name=repr(username), reserved=", ".join(sorted(RESERVED_NAMES)))
        )
    return username


def generate_password(policy: PasswordPolicy, username: str, length: int = 16) -> str:
    """A random temporary password that meets *policy* (all four classes)."""
    alphabet = string.ascii_letters + string.digits + "-_.!?+"
    length = max(length, policy.min_length)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _i in range(length))
        if not policy.problems(candidate, username):
            return candidate


class AccountsCore:
    """The state and helpers every part of :class:`~registry.accounts.Accounts` uses."""

    def __init__(
        self,
        store: Store,
        audit: AuditTrail,
        policy: PasswordPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        roles: Mapping[str, Role] = DEFAULT_ROLES,
        workstation: str = "",
    ) -> None:
        self.store = store
        self.people_store = PeopleStore(store)
        self.audit = audit
        self.policy = policy or PasswordPolicy()
        self.clock = clock
        self.roles = roles
        self.workstation = workstation
        # The phantom account's hash: a random secret nobody knows, made with the same
        # parameters as real hashes so that checking it costs the same.
        self._phantom_hash = self.policy.hash(secrets.token_urlsafe(32))
        self._phantoms: OrderedDict[str, Person] = OrderedDict()

    # ------------------------------------------------------------------ helpers

    def _record(self, events: Iterable[AuditEvent], actor: str | None = None,
                extra: Mapping[str, str] | None = None) -> None:
        for event in events:
            details = dict(event.details) | dict(extra or {})
            self.audit.append(actor or event.username, event.action, event.username, details)

    def _where(self) -> dict[str, str]:
        return {"workstation": self.workstation} if self.workstation else {}

    def _role(self, person: Person) -> Role:
        return role_named(person.role, self.roles)

    def _supervisory(self) -> list[str]:
        return [r.name for r in self.roles.values()
                if Permission.REVIEW_REGISTER in r.permissions]

    def _phantom(self, username: str, now: datetime) -> Person:
        phantom = self._phantoms.pop(username, None)
        if phantom is None:
            phantom = Person(username=username, full_name="", role="", level=Level.FIRST,
                             password_hash=self._phantom_hash, password_changed_at=now,
                             last_login_at=now)
        return phantom

    def _remember_phantom(self, person: Person, now: datetime) -> None:
        self._phantoms[person.username] = replace(person, last_login_at=now,
                                                  password_changed_at=now)
        while len(self._phantoms) > MAX_PHANTOMS:
            self._phantoms.popitem(last=False)

    def _check(self, username: str, password: str, now: datetime) -> tuple[SignInOutcome, bool]:
        """One attempt through the state machine; (outcome, known). Unknown names use a
        phantom account (see the module docstring)."""
        person = self.people_store.get(username)
        if person is not None:
            return check_sign_in(person, password, self.policy, now), True
        outcome = check_sign_in(self._phantom(username, now), password, self.policy, now)
        self._remember_phantom(outcome.person, now)
        return outcome, False

    def _record_phantom(self, username: str) -> None:
        self.audit.append(username[:64], LOGIN_FAILED, username[:64],
                          {"reason": "unknown_user"} | self._where())

    def _open(self, person: Person, now: datetime, cosigner: str | None = None) -> Session:
        session_id = self.people_store.open_session(
            person.username, now, cosigner=cosigner, workstation=self.workstation)
        return Session(id=session_id, person=person, role=self._role(person), started_at=now,
                       cosigner=cosigner, workstation=self.workstation)

    # ------------------------------------------------------------------ signing in
