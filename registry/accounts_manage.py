"""Managing people: the part of :class:`~registry.accounts.Accounts` that needs
``manage_users`` (R10, R12). The rules and why are in registry/accounts.py.

A refusal is audited *outside* any transaction (``require`` does so, and
:meth:`PeopleManagement._refuse` too), then raised: an audit entry appended inside a
transaction that then rolls back would leave the trail's head mirror ahead of the chain.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import NoReturn

from registry.accounts_core import (
    ACCOUNT_CREATED,
    DEMO_ACCOUNTS,
    DEMO_ACTOR,
    INIT_ACTOR,
    MANAGEMENT_REFUSED,
    MAX_FULL_NAME,
    PASSWORD_RESET,
    ROLE_CHANGED,
    SYSTEM_ACTOR,
    AccountsCore,
    AlreadyInitialised,
    ManagementRefused,
    SessionEnded,
    UnknownPerson,
    UsernameTaken,
    validate_username,
)
from registry.errors import CentraleError
from registry.i18n import N_, _
from registry.people import (
    AuditEvent,
    DisabledReason,
    Person,
    create_person,
    disable,
    enable,
)
from registry.roles import Level, Permission, PermissionDenied, Role, role_named
from registry.session import Session, require


class InvalidFullName(CentraleError):
    title = N_("Invalid name")


def _full_name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > MAX_FULL_NAME:
        raise InvalidFullName(
            _("The full name must have 1 to {n} characters.").format(n=MAX_FULL_NAME))
    return name


class PeopleManagement(AccountsCore):
    """Adding, listing, disabling and re-enabling people; resets and role changes."""

    # ------------------------------------------------------------------ checks

    def _acting(self, actor: Session, permission: Permission, target: str,
                alternative: Permission | None = None) -> Session:
        """The actor as the database knows them now, holding *permission* or *alternative*
        (a refusal is audited). A disabled person, an ended session or a changed role count
        at once.
        """
        current = self.people_store.get(actor.username)
        row = self.people_store.session(actor.id)
        if current is None or not current.active or row is None or row.ended_at is not None:
            raise SessionEnded(_("Your session has ended: sign in again."))
        fresh = replace(actor, person=current, role=self._role(current))
        if alternative is None or not fresh.allows(alternative):
            require(fresh, permission, self.audit, target)
        return fresh

    def _refuse(self, actor: Session, target: str, reason: str, message: str) -> NoReturn:
        self.audit.append(actor.username, MANAGEMENT_REFUSED, target, {"reason": reason})
        raise ManagementRefused(message)

    def _is_supervisory(self, role: Role) -> bool:
        return Permission.REVIEW_REGISTER in role.permissions

    def _guard_supervisory(self, actor: Session, target: str, *roles: Role) -> None:
        """Only someone who reviews the register may touch a supervisory account."""
        if any(self._is_supervisory(r) for r in roles) and not self._is_supervisory(actor.role):
            self._refuse(
                actor, target, "supervisory_account",
                _("Only a supervisor may create, change or reset a supervisor's account."))

    def _get(self, username: str) -> Person:
        person = self.people_store.get(username)
        if person is None:
            raise UnknownPerson(_("There is nobody called {name}.").format(name=username))
        return person

    def _last_supervisor(self, person: Person) -> bool:
        role = self.roles.get(person.role)
        return (person.active and role is not None and self._is_supervisory(role)
                and self.people_store.count_active_in_roles(self._supervisory()) <= 1)

    def _new_password(self, person: Person, password: str, now: datetime) -> Person:
        """Someone else sets *person*'s password: policy and history apply, a change is due
        at the next sign-in, the lock is lifted."""
        self.policy.check(password, person.username, person.recent_hashes())
        keep = max(self.policy.history - 1, 0)
        return replace(
            person, password_hash=self.policy.hash(password), password_changed_at=now,
            password_history=person.recent_hashes()[:keep], must_change_password=True,
            failed_attempts=0, locked_until=None,
        )  # fmt: skip

    # ------------------------------------------------------------------ people

    def add_person(self, actor: Session, username: str, full_name: str, role: str,
                   level: Level | int, password: str) -> Person:
        """A new account; the person changes *password* at the first sign-in.

        Raises :class:`InvalidUsername`, :class:`UsernameTaken`, :class:`UnknownRole`,
        :class:`PasswordRejected`, :class:`PermissionDenied`, :class:`ManagementRefused`.
        """
        actor = self._acting(actor, Permission.MANAGE_USERS, username)
        validate_username(username)
        name = _full_name(full_name)
        new_role = role_named(role, self.roles)
        self._guard_supervisory(actor, username, new_role)
        now = self.clock()
        person = create_person(username, name, new_role.name, Level(level), password,
                               self.policy, now)
        with self.store.transaction():
            if self.people_store.get(username) is not None:
                raise UsernameTaken(
                    _("The user name {name} is already taken (user names are never reused "
                      "while the account exists).").format(name=username))
            self.people_store.add(person, now, actor.username)
            self.audit.append(actor.username, ACCOUNT_CREATED, username,
                              {"role": new_role.name, "level": str(int(person.level))})
        return person

    def people(self, actor: Session) -> list[Person]:
        """Everyone, for whoever manages people or reviews the register."""
        self._acting(actor, Permission.MANAGE_USERS, "people", Permission.REVIEW_REGISTER)
        return self.people_store.all()

    def disable(self, actor: Session, username: str,
                reason: DisabledReason = DisabledReason.REVOKED) -> Person:
        """Disable at once (loss of role, R12); the person's open sessions end."""
        actor = self._acting(actor, Permission.MANAGE_USERS, username)
        person = self._get(username)
        self._guard_supervisory(actor, username, self._role(person))
        if username == actor.username:
            self._refuse(actor, username, "self", _("Nobody may disable their own account."))
        if self._last_supervisor(person):
            self._refuse(actor, username, "last_supervisor",
                         _("{name} is the last active supervisor: add another one first.")
                         .format(name=username))
        with self.store.transaction():
            now = self.clock()
            updated, events = disable(self._get(username), reason)
            if not events:
                return updated
            self.people_store.save(updated)
            ended = self.people_store.close_sessions_of(username, now, "disabled")
            self._record(events, actor=actor.username,
                         extra={"sessions_ended": ",".join(map(str, ended))} if ended else None)
        return updated

    def enable(self, actor: Session, username: str, new_password: str) -> Person:
        """Re-enable with a password chosen by *actor*, to change at the next sign-in."""
        actor = self._acting(actor, Permission.MANAGE_USERS, username)
        person = self._get(username)
        self._guard_supervisory(actor, username, self._role(person))
        with self.store.transaction():
            now = self.clock()
            updated, events = enable(self._get(username))
            if not events:
                return updated
            # the last sign-in is in the trail; kept here it would disable the account again
            updated = self._new_password(replace(updated, last_login_at=None), new_password,
                                         now)
            self.people_store.save(updated)
            self._record([*events, AuditEvent(PASSWORD_RESET, username)], actor=actor.username)
        return updated

    def reset_password(self, actor: Session, username: str, new_password: str) -> Person:
        """Set someone's password (forgotten, locked out); they change it at the next
        sign-in. A disabled account is re-enabled with :meth:`enable` instead."""
        actor = self._acting(actor, Permission.MANAGE_USERS, username)
        person = self._get(username)
        self._guard_supervisory(actor, username, self._role(person))
        if not person.active:
            self._refuse(actor, username, "disabled",
                         _("{name} is disabled: enable the account instead.").format(
                             name=username))
        with self.store.transaction():
            updated = self._new_password(self._get(username), new_password, self.clock())
            self.people_store.save(updated)
            self.audit.append(actor.username, PASSWORD_RESET, username)
        return updated

    def change_role(self, actor: Session, username: str, role: str,
                    level: Level | int | None = None) -> Person:
        """Give someone another role (and level). Promotion to or demotion from a
        supervisory role needs a supervisor; the last supervisor keeps the role."""
        actor = self._acting(actor, Permission.MANAGE_USERS, username)
        person = self._get(username)
        new_role = role_named(role, self.roles)
        self._guard_supervisory(actor, username, self._role(person), new_role)
        if (self._last_supervisor(person) and not self._is_supervisory(new_role)):
            self._refuse(actor, username, "last_supervisor",
                         _("{name} is the last active supervisor: add another one first.")
                         .format(name=username))
        new_level = Level(level) if level is not None else person.level
        with self.store.transaction():
            updated = replace(self._get(username), role=new_role.name, level=new_level)
            self.people_store.save(updated)
            ended = self.people_store.close_sessions_of(username, self.clock(), "role_changed")
            details = {"from": person.role, "to": new_role.name, "level": str(int(new_level))}
            if ended:
                details["sessions_ended"] = ",".join(map(str, ended))
            self.audit.append(actor.username, ROLE_CHANGED, username, details)
        return updated

    # ------------------------------------------------------------------ sweeps and set-up

    def disable_unused(self) -> list[str]:
        """Disable every account unused for ``idle_limit`` (R12, six months); audited as
        ``system``. The sign-in applies the same rule to the one account it reads."""
        disabled: list[str] = []
        with self.store.transaction():
            now = self.clock()
            for person in self.people_store.all():
                if person.active and self.policy.idle_too_long(person.last_used(), now):
                    updated, events = disable(person, DisabledReason.UNUSED)
                    self.people_store.save(updated)
                    self.people_store.close_sessions_of(person.username, now, "disabled")
                    self._record(events, actor=SYSTEM_ACTOR)
                    disabled.append(person.username)
        return disabled

    def _first_people(self, actor: str, accounts: list[tuple[str, str, str, Level, str]],
                      must_change: bool) -> list[Person]:
        made: list[Person] = []
        now = self.clock()
        for username, full_name, role, level, password in accounts:
            validate_username(username)
            person = create_person(username, _full_name(full_name),
                                   role_named(role, self.roles).name, level, password,
                                   self.policy, now)
            made.append(replace(person, must_change_password=must_change))
        with self.store.transaction():
            if self.people_store.count():
                raise AlreadyInitialised(
                    _("People already exist in this database: sign in and use "
                      "'centrale users add' instead."))
            for person in made:
                self.people_store.add(person, now, actor)
            for person in made:
                self.audit.append(actor, ACCOUNT_CREATED, person.username,
                                  {"role": person.role, "level": str(int(person.level))})
        return made

    def bootstrap_supervisor(self, username: str, full_name: str, password: str,
                             level: Level = Level.FIRST) -> Person:
        """The first supervisore of an empty database (``centrale init``), who chose their
        own password: no change is forced."""
        supervisory = self._supervisory()
        if not supervisory:
            raise AlreadyInitialised(_("No role may review the register: cannot initialise."))
        role = "supervisore" if "supervisore" in supervisory else supervisory[0]
        return self._first_people(INIT_ACTOR, [(username, full_name, role, level, password)],
                                  must_change=False)[0]

    def create_demo_accounts(self) -> list[tuple[str, str, str]]:
        """One account per default role for the demo, on an empty database only;
        (username, password, role) as in :data:`DEMO_ACCOUNTS`."""
        accounts = [(u, n, r, Level.FIRST, p) for u, n, r, p in DEMO_ACCOUNTS
                    if r in self.roles]
        self._first_people(DEMO_ACTOR, accounts, must_change=False)
        return [(u, p, r) for u, _n, r, _l, p in accounts]


__all__ = ["InvalidFullName", "PeopleManagement", "PermissionDenied"]
