"""The accounts service: sign-in, sessions and the people who may use the console (R10-R14).

:mod:`registry.people` is the pure state machine; this service loads a person, runs the
machine, stores the new state, opens or closes the session row and writes every event to
the audit trail, all in one ``store.transaction()`` (``AuditTrail.append`` joins it).

Choices (see also DESIGN.md "People, roles and the register"):

- **Order inside a transaction.** The audit entries are appended last, after every check
  that may refuse: the trail's head mirror is written as soon as an entry is appended, so a
  rollback after an append would leave the mirror ahead of the chain.
- **Reads happen inside the write transaction** (``BEGIN IMMEDIATE``), password checks
  included, so that two workstations failing the same account count two failures, not one.
  An argon2 check holds the write lock for ~0.1 s; a handful of workstations never notice.
- **Unknown user names** go through the same state machine as a phantom account whose hash
  belongs to a random secret: same argon2 work, same messages, same lockout after
  ``max_failures`` (counted in memory, per process), audited as ``login_failed`` with the
  typed name and ``reason=unknown_user``. The state machine itself tells a disabled or
  locked account before checking the password, so existence is not perfectly hidden.
- **Maintenance-only roles** (tecnico, R14) never get a session from :meth:`sign_in`: a
  right password gives ``cosigner_required`` and no session; :meth:`cosign` checks both
  people through the state machine (failures count for each) and refuses a co-signer who is
  the same person or may not watch (:class:`~registry.roles.OperatorPresenceRequired`).
  Always test ``result.session``, not ``result.outcome``, to know whether someone is in.
- **Supervisory roles** are those holding ``review_register`` (the supervisore). Only a
  person who holds ``review_register`` may create, promote, demote, disable, enable or reset
  the password of someone whose role (current or new) is supervisory: otherwise an
  amministratore could reset a supervisor's password and sign in as them. The last active
  supervisory person cannot be disabled or demoted, and nobody may disable themselves.
  Residual risk, stated: an amministratore can create an operator account and use it; the
  audit trail names who created it and the supervisor's review sees it.
- **Re-enabling** an account clears ``last_login_at`` (the history stays in the trail), or
  the idle rule would disable it again at the next sign-in.
- **Every management call re-reads the actor** from the database: a person disabled or
  demoted meanwhile loses the powers at once, whatever their open session says.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from registry.accounts_core import (
    COSIGN_REFUSED,
    COSIGNED,
    DEMO_ACCOUNTS,
    INIT_ACTOR,
    LOGOUT,
    SESSION_LOCKED,
    SESSION_UNLOCKED,
    SIGNATURE_FAILED,
    SYSTEM_ACTOR,
    AccountLocked,
    AlreadyInitialised,
    InvalidUsername,
    ManagementRefused,
    SessionEnded,
    SignInResult,
    UnknownPerson,
    UnlockResult,
    UsernameTaken,
    generate_password,
    validate_username,
)
from registry.accounts_manage import InvalidFullName, PeopleManagement
from registry.errors import CentraleError
from registry.i18n import _
from registry.people import (
    LOGIN,
    AccountDisabled,
    AuditEvent,
    Outcome,
    Person,
    WrongCurrentPassword,
    change_password,
    check_sign_in,
    is_locked,
    record_failure,
    record_success,
)
from registry.roles import OperatorPresenceRequired, require_operator_presence
from registry.session import Session

#: the end reason of a session its console left open (crash, power cut)
STALE = "not_closed"


class Accounts(PeopleManagement):
    """People, their passwords and their console sessions, audited.

    ``Accounts(store, audit, policy=PasswordPolicy(), clock=utc_now, roles=DEFAULT_ROLES,
    workstation="")``.
    """

    def sign_in(self, username: str, password: str) -> SignInResult:
        """One sign-in attempt at the sign-in screen (R3, R10-R13)."""
        with self.store.transaction():
            now = self.clock()
            outcome, known = self._check(username, password, now)
            if not known:
                self._record_phantom(username)
                return SignInResult(outcome.outcome, outcome.message(),
                                    attempts_left=outcome.attempts_left)
            person = outcome.person
            events = list(outcome.events)
            if outcome.ok and self._role(person).maintenance_only:
                return self._needs_cosigner(person, events)
            self.people_store.save(person)
            session = self._open(person, now) if outcome.ok else None
            extra = self._where() | ({"session": str(session.id)} if session else {})
            self._record(events, extra=extra)
        return SignInResult(outcome.outcome, outcome.message(), session,
                            attempts_left=outcome.attempts_left)

    def _needs_cosigner(self, person: Person, events: list[AuditEvent]) -> SignInResult:
        # The password was right, but no session: keep the reset counter, not the "login".
        stored = self.people_store.get(person.username)
        last = stored.last_login_at if stored else None
        self.people_store.save(replace(person, last_login_at=last))
        kept = [e for e in events if e.action != LOGIN]
        kept.append(AuditEvent("login_refused", person.username,
                               {"reason": "cosigner_required"}))
        self._record(kept, extra=self._where())
        return SignInResult(
            Outcome.OK,
            _("Maintenance access needs an authorised operator present: the operator signs "
              "in alongside."),
            cosigner_required=True,
        )

    def change_expired_password(self, username: str, old: str, new: str) -> Session:
        """The forced change at sign-in: change the password, then open the session.

        Raises :class:`WrongCurrentPassword` (counted towards the lockout),
        :class:`AccountLocked`, :class:`AccountDisabled`, :class:`PasswordRejected`. For a
        maintenance-only person the password is changed and then
        :class:`OperatorPresenceRequired` is raised: go on with :meth:`cosign`.
        """
        error: CentraleError | None = None
        session: Session | None = None
        with self.store.transaction():
            now = self.clock()
            outcome, known = self._check(username, old, now)
            if not known:
                self._record_phantom(username)
                error = WrongCurrentPassword(outcome.message())
            elif outcome.outcome in (Outcome.WRONG_PASSWORD, Outcome.LOCKED, Outcome.DISABLED):
                self.people_store.save(outcome.person)
                self._record(outcome.events, extra=self._where())
                kind = {Outcome.WRONG_PASSWORD: WrongCurrentPassword,
                        Outcome.LOCKED: AccountLocked}.get(outcome.outcome, AccountDisabled)
                error = kind(outcome.message())
            else:
                # PasswordRejected leaves here before anything was written.
                person, events = change_password(outcome.person, old, new, self.policy, now)
                if self._role(person).maintenance_only:
                    self.people_store.save(person)
                    self._record(events, extra=self._where())
                    error = OperatorPresenceRequired(
                        _("Password changed. Maintenance access needs an authorised operator "
                          "present: the operator signs in alongside."))
                else:
                    person, succeeded = record_success(person, now)
                    self.people_store.save(person)
                    session = self._open(person, now)
                    self._record([*events, *succeeded],
                                 extra=self._where() | {"session": str(session.id)})
        # Raised after the commit: what was counted and audited stays.
        if error is not None:
            raise error
        assert session is not None
        return session

    def cosign(self, technician: str, technician_password: str, operator: str,
               operator_password: str) -> SignInResult:
        """A maintenance session, opened only with an operator present who may watch (R14).

        Wrong passwords give a result (and count, each for its owner); a co-signer who is the
        same person or may not watch, or a person who needs no co-signer, raises
        :class:`OperatorPresenceRequired` (audited as ``cosign_refused``).
        """
        if technician == operator:
            self._cosign_refused(technician, operator, "same_person")
            raise OperatorPresenceRequired(
                _("{cosigner} cannot vouch for {who}: the operator present must be "
                  "another person allowed to watch the cameras.").format(
                    cosigner=operator, who=technician))
        error: OperatorPresenceRequired | None = None
        with self.store.transaction():
            result = self._cosign(technician, technician_password, operator,
                                  operator_password)
            if isinstance(result, OperatorPresenceRequired):
                error = result
        if error is not None:
            raise error
        assert isinstance(result, SignInResult)
        return result

    def _cosign(self, technician: str, technician_password: str, operator: str,
                operator_password: str) -> SignInResult | OperatorPresenceRequired:
        now = self.clock()
        tech, tech_known = self._check(technician, technician_password, now)
        if not tech_known:
            self._record_phantom(technician)
        if not tech_known or not tech.ok:
            if tech_known:
                self.people_store.save(tech.person)
                self._record(tech.events, extra=self._where())
            return SignInResult(tech.outcome, tech.message(), attempts_left=tech.attempts_left)
        tech_role = self._role(tech.person)
        if not tech_role.maintenance_only:
            self._cosign_refused(technician, operator, "not_maintenance")
            return OperatorPresenceRequired(
                _("{who} does not need an operator's co-signature: sign in normally.")
                .format(who=technician))
        op, op_known = self._check(operator, operator_password, now)
        if not op_known:
            self._record_phantom(operator)
        if not op_known or op.outcome is not Outcome.OK:
            if op_known:
                self.people_store.save(op.person)
                self._record(op.events, extra=self._where())
            message = _("The operator present could not sign: {reason}").format(
                reason=op.message())
            if op.outcome is Outcome.MUST_CHANGE_PASSWORD:
                message = _("The operator present must first sign in and change their "
                            "password.")
            return SignInResult(op.outcome, message, attempts_left=op.attempts_left)
        # Both passwords are right: a success for each (R12 counts co-signing as use).
        op_events = [e for e in op.events if e.action != LOGIN]
        tech_events = [e for e in tech.events if e.action != LOGIN]
        self.people_store.save(op.person)
        op_role = self._role(op.person)
        try:
            require_operator_presence(tech_role, technician, operator, op_role.permissions)
        except OperatorPresenceRequired as refused:
            self._record(op_events, extra=self._where())
            self._cosign_refused(technician, operator, "cosigner_may_not_watch")
            return refused
        self.people_store.save(tech.person)
        session = self._open(tech.person, now, cosigner=operator)
        extra = self._where() | {"session": str(session.id), "cosigner": operator}
        self._record([*tech_events, *op_events], extra=self._where())
        self._record([AuditEvent(LOGIN, technician)], extra=extra)
        self.audit.append(operator, COSIGNED, technician, extra)
        return SignInResult(Outcome.OK, _("Signed in, co-signed by {operator}.").format(
            operator=operator), session)

    def _cosign_refused(self, technician: str, operator: str, reason: str) -> None:
        self.audit.append(technician[:64], COSIGN_REFUSED, technician[:64],
                          {"cosigner": operator[:64], "reason": reason} | self._where())

    # ------------------------------------------------------------------ the open session

    def session_open(self, session: Session) -> bool:
        """False once the session was ended (elsewhere, or by disabling the account)."""
        row = self.people_store.session(session.id)
        return row is not None and row.ended_at is None

    def sign_out(self, session: Session, reason: str = LOGOUT) -> None:
        with self.store.transaction():
            if self.people_store.close_session(session.id, self.clock(), reason):
                self._logout(session, reason)

    def _logout(self, session: Session, reason: str) -> None:
        details = {"session": str(session.id), "reason": reason} | self._where()
        if session.cosigner:
            details["cosigner"] = session.cosigner
        self.audit.append(session.username, LOGOUT, session.username, details)

    def close_stale_sessions(self) -> list[int]:
        """At a console's start: end the sessions this workstation left open (a crash, a
        power cut), so that the trail shows where each session ended. Audited as ``system``
        with reason ``not_closed``; sessions of other workstations are left alone."""
        closed: list[int] = []
        with self.store.transaction():
            now = self.clock()
            for row in self.people_store.open_sessions():
                if row.workstation != self.workstation:
                    continue
                self.people_store.close_session(row.id, now, STALE)
                details = {"session": str(row.id), "reason": STALE,
                           "started_at": row.started_at.isoformat()} | self._where()
                self.audit.append(SYSTEM_ACTOR, LOGOUT, row.username, details)
                closed.append(row.id)
        return closed

    def lock(self, session: Session) -> None:
        """The idle lock or the lock key: the session stays open, the screen is hidden."""
        self.audit.append(session.username, SESSION_LOCKED, session.username,
                          {"session": str(session.id)} | self._where())

    def _in_session_check(
        self, session: Session, password: str, now: datetime
    ) -> tuple[Person | None, list[AuditEvent], str]:
        """A password check inside a session: (person after, events, state) where state is
        ``ok``, ``wrong``, ``locked`` or ``disabled``. Failures count towards the lockout."""
        person = self.people_store.get(session.username)
        if person is None or not person.active:
            return person, [], "disabled"
        if is_locked(person, now):
            return person, [], "locked"
        outcome = check_sign_in(replace(person, last_login_at=now), password, self.policy, now)
        updated = replace(outcome.person, last_login_at=person.last_login_at)
        if outcome.outcome in (Outcome.OK, Outcome.MUST_CHANGE_PASSWORD):
            rehashed = [e for e in outcome.events if e.action == "password_rehashed"]
            return replace(updated, failed_attempts=0, locked_until=None), rehashed, "ok"
        events = [e for e in outcome.events if e.action != "login_refused"]
        state = "locked" if outcome.outcome is Outcome.LOCKED else "wrong"
        return updated, events, state

    def unlock(self, session: Session, password: str) -> UnlockResult:
        """Back from the lock screen with the session's own password."""
        with self.store.transaction():
            now = self.clock()
            if not self.session_open(session):
                return UnlockResult(False, _("The session has ended: sign in again."), True)
            person, events, state = self._in_session_check(session, password, now)
            where = {"session": str(session.id)} | self._where()
            if person is not None and state in ("ok", "wrong", "locked"):
                self.people_store.save(person)
            if state == "ok":
                self._record(events, extra=where)
                self.audit.append(session.username, SESSION_UNLOCKED, session.username, where)
                return UnlockResult(True, _("Unlocked."))
            if state == "wrong":
                self._record(events, extra=where)
                left = self.policy.max_failures - (person.failed_attempts if person else 0)
                return UnlockResult(False, _("Wrong password ({n} attempts left).").format(
                    n=left), attempts_left=left)
            reason = "locked_out" if state == "locked" else "disabled"
            self.people_store.close_session(session.id, now, reason)
            self._record(events, extra=where)
            self._logout(session, reason)
        if reason == "locked_out":
            return UnlockResult(False, _("Too many wrong passwords: the account is locked and "
                                         "the session has ended."), True, 0)
        return UnlockResult(False, _("The account is disabled: the session has ended."), True)

    def verify_signature(self, session: Session, password: str) -> bool:
        """The person confirms a register entry with their password (the signature).

        A wrong one is audited and counts towards the lockout; a locked or disabled account
        cannot sign.
        """
        with self.store.transaction():
            now = self.clock()
            person, events, state = self._in_session_check(session, password, now)
            if person is not None and state != "disabled":
                self.people_store.save(person)
            if state == "ok":
                self._record(events)
                return True
            where = {"session": str(session.id), "state": state} | self._where()
            self._record(events, extra={"session": str(session.id)})
            self.audit.append(session.username, SIGNATURE_FAILED, session.username, where)
        return False

    def change_password(self, session: Session, old: str, new: str) -> Session:
        """The person changes their own password (R11); returns the session with it.

        A wrong current password counts towards the lockout (:class:`WrongCurrentPassword`);
        :class:`AccountLocked`, :class:`AccountDisabled`, :class:`PasswordRejected`.
        """
        error: CentraleError | None = None
        with self.store.transaction():
            now = self.clock()
            person = self.people_store.get(session.username)
            if person is None or not person.active:
                raise AccountDisabled(_("The account is disabled: ask the supervisor."))
            if is_locked(person, now):
                raise AccountLocked(_("Too many wrong passwords: the account is locked."))
            extra = {"session": str(session.id)} | self._where()
            try:
                updated, events = change_password(person, old, new, self.policy, now)
            except WrongCurrentPassword as wrong:
                failed, failures = record_failure(person, self.policy, now)
                self.people_store.save(failed)
                self._record(failures, extra=extra)
                error = wrong
            else:
                self.people_store.save(updated)
                self._record(events, extra=extra)
        if error is not None:
            raise error
        return replace(session, person=updated)


__all__ = [
    "DEMO_ACCOUNTS",
    "INIT_ACTOR",
    "SYSTEM_ACTOR",
    "AccountLocked",
    "Accounts",
    "AlreadyInitialised",
    "InvalidFullName",
    "InvalidUsername",
    "ManagementRefused",
    "SessionEnded",
    "SignInResult",
    "UnknownPerson",
    "UnlockResult",
    "UsernameTaken",
    "generate_password",
    "validate_username",
]
