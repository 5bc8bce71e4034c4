"""The accounts service on a real SQLite file, with a controlled clock and a real audit trail.

Every test ends by verifying the trail with its head mirror: a refusal audited inside a
transaction that then rolled back would leave the mirror ahead, and the check would fail.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from accounts_support import (
    NEW,
    POLICY,
    PW,
    T0,
    Clock,
    accounts_fixture,  # noqa: F401  (the ``accounts`` fixture)
    actions,
    clock_fixture,  # noqa: F401  (the ``clock`` fixture)
    get,
    last,
    signed_in,
    store_fixture,  # noqa: F401  (the ``store`` fixture)
    trail_fixture,  # noqa: F401  (the ``trail`` fixture)
)

from registry.accounts import AccountLocked, Accounts
from registry.audit import AuditTrail
from registry.passwords import PasswordRejected
from registry.people import AccountDisabled, Outcome, WrongCurrentPassword
from registry.roles import OperatorPresenceRequired, role_named
from registry.store import Store
from registry.store_people import PeopleStore

pytestmark = pytest.mark.usefixtures("english")


# ---------------------------------------------------------------------- sign-in


def test_sign_in_opens_a_session_row_and_audits_the_login(accounts: Accounts,
                                                           trail: AuditTrail) -> None:
    result = accounts.sign_in("olga", PW["olga"])
    assert result.outcome is Outcome.OK and result.session is not None
    session = result.session
    assert session.role == role_named("operatore") and session.workstation == "ws-1"
    row = accounts.people_store.session(session.id)
    assert row is not None and row.username == "olga" and row.ended_at is None
    entry = last(trail)
    assert (entry.actor, entry.action, entry.target) == ("olga", "login", "olga")
    assert entry.details == {"session": str(session.id), "workstation": "ws-1"}
    assert get(accounts, "olga").last_login_at == T0


def test_unknown_user_looks_like_a_wrong_password_and_locks_alike(
        accounts: Accounts, trail: AuditTrail) -> None:
    for attempt in range(1, 5):
        known = accounts.sign_in("olga", "wrong-Password-1")
        unknown = accounts.sign_in("nessuno", "wrong-Password-1")
        assert known.outcome is unknown.outcome is Outcome.WRONG_PASSWORD
        assert known.message == unknown.message
        assert f"{5 - attempt} attempts left" in unknown.message
        assert known.session is unknown.session is None
    known = accounts.sign_in("olga", "wrong-Password-1")
    unknown = accounts.sign_in("nessuno", "wrong-Password-1")
    assert known.outcome is unknown.outcome is Outcome.LOCKED
    assert known.message == unknown.message
    phantom = trail.entries(actor="nessuno")
    assert {e.action for e in phantom} == {"login_failed"}
    assert all(e.details["reason"] == "unknown_user" for e in phantom)
    assert accounts.people_store.get("nessuno") is None  # nothing stored for a typed name


def test_lockout_and_its_end(accounts: Accounts, trail: AuditTrail, clock: Clock) -> None:
    for _ in range(4):
        assert accounts.sign_in("olga", "Sbagliata-000").outcome is Outcome.WRONG_PASSWORD
    locked = accounts.sign_in("olga", "Sbagliata-000")
    assert locked.outcome is Outcome.LOCKED and "locked until 08:15 UTC" in locked.message
    assert "account_locked" in actions(trail, actor="olga")
    clock.advance(minutes=14, seconds=59)
    still = accounts.sign_in("olga", PW["olga"])
    assert still.outcome is Outcome.LOCKED and still.session is None
    assert last(trail).action == "login_refused"
    clock.advance(seconds=1)
    assert accounts.sign_in("olga", PW["olga"]).session is not None
    assert get(accounts, "olga").failed_attempts == 0


def test_expiry_forces_a_change_before_any_session(accounts: Accounts, trail: AuditTrail,
                                                   clock: Clock) -> None:
    clock.advance(days=90)
    result = accounts.sign_in("olga", PW["olga"])
    assert result.outcome is Outcome.MUST_CHANGE_PASSWORD and result.session is None
    assert accounts.people_store.open_sessions() == []
    assert last(trail).action == "password_change_required"
    with pytest.raises(WrongCurrentPassword):
        accounts.change_expired_password("olga", "Sbagliata-000", NEW)
    assert get(accounts, "olga").failed_attempts == 1
    assert last(trail).action == "login_failed"
    with pytest.raises(PasswordRejected, match="last 5 passwords"):
        accounts.change_expired_password("olga", PW["olga"], PW["olga"])
    before = len(trail.entries())
    with pytest.raises(PasswordRejected, match="user name"):
        accounts.change_expired_password("olga", PW["olga"], "Olga-is-my-name-1")
    assert len(trail.entries()) == before  # a refused new password writes nothing
    session = accounts.change_expired_password("olga", PW["olga"], NEW)
    assert accounts.session_open(session)
    assert actions(trail)[-2:] == ["password_changed", "login"]
    assert accounts.sign_in("olga", NEW).session is not None


def test_unknown_user_cannot_change_a_password(accounts: Accounts, trail: AuditTrail) -> None:
    with pytest.raises(WrongCurrentPassword):
        accounts.change_expired_password("nessuno", "x", NEW)
    assert last(trail).details["reason"] == "unknown_user"


def test_disabled_and_locked_accounts_cannot_change_their_password(
        accounts: Accounts, clock: Clock) -> None:
    for _ in range(5):
        accounts.sign_in("olga", "Sbagliata-000")
    with pytest.raises(AccountLocked):
        accounts.change_expired_password("olga", PW["olga"], NEW)
    clock.advance(days=200)
    with pytest.raises(AccountDisabled):
        accounts.change_expired_password("olga", PW["olga"], NEW)


# ---------------------------------------------------------------------- R14 co-signature


def test_technician_alone_gets_no_session(accounts: Accounts, trail: AuditTrail) -> None:
    result = accounts.sign_in("tino", PW["tino"])
    assert result.session is None and result.cosigner_required
    assert "operator present" in result.message
    assert accounts.people_store.open_sessions() == []
    assert get(accounts, "tino").last_login_at is None
    assert last(trail).action == "login_refused"
    assert last(trail).details["reason"] == "cosigner_required"


def test_cosigned_session_names_both(accounts: Accounts, trail: AuditTrail) -> None:
    result = accounts.cosign("tino", PW["tino"], "olga", PW["olga"])
    assert result.outcome is Outcome.OK and result.session is not None
    assert result.session.cosigner == "olga"
    row = accounts.people_store.session(result.session.id)
    assert row is not None and (row.username, row.cosigner) == ("tino", "olga")
    login, cosigned = trail.entries()[-2:]
    assert (login.actor, login.action, login.details["cosigner"]) == ("tino", "login", "olga")
    assert (cosigned.actor, cosigned.action, cosigned.target) == ("olga", "cosigned", "tino")
    assert get(accounts, "olga").last_login_at == T0  # co-signing is a use of the account
    accounts.sign_out(result.session)
    assert last(trail).details["cosigner"] == "olga"


def test_cosign_refusals(accounts: Accounts, trail: AuditTrail) -> None:
    with pytest.raises(OperatorPresenceRequired, match="another person"):
        accounts.cosign("tino", PW["tino"], "tino", PW["tino"])
    assert (last(trail).action, last(trail).details["reason"]) == ("cosign_refused",
                                                                   "same_person")
    with pytest.raises(OperatorPresenceRequired, match="another person allowed to watch"):
        accounts.cosign("tino", PW["tino"], "amos", PW["amos"])  # amministratore: no watch
    assert last(trail).details["reason"] == "cosigner_may_not_watch"
    with pytest.raises(OperatorPresenceRequired, match="sign in normally"):
        accounts.cosign("olga", PW["olga"], "ettore", PW["ettore"])
    assert accounts.people_store.open_sessions() == []


def test_cosign_wrong_passwords_count_for_their_owner(accounts: Accounts) -> None:
    wrong_op = accounts.cosign("tino", PW["tino"], "olga", "Sbagliata-000")
    assert wrong_op.outcome is Outcome.WRONG_PASSWORD and wrong_op.session is None
    assert "operator present could not sign" in wrong_op.message
    assert get(accounts, "olga").failed_attempts == 1
    assert get(accounts, "tino").failed_attempts == 0
    wrong_tech = accounts.cosign("tino", "Sbagliata-000", "olga", PW["olga"])
    assert wrong_tech.outcome is Outcome.WRONG_PASSWORD and wrong_tech.session is None
    assert get(accounts, "tino").failed_attempts == 1
    nobody = accounts.cosign("tino", PW["tino"], "nessuno", "x")
    assert nobody.outcome is Outcome.WRONG_PASSWORD and nobody.session is None
    assert accounts.people_store.open_sessions() == []


def test_technician_with_expired_password_changes_it_then_needs_the_operator(
        accounts: Accounts, clock: Clock) -> None:
    clock.advance(days=91)
    assert accounts.cosign("tino", PW["tino"], "olga", NEW).outcome is \
        Outcome.MUST_CHANGE_PASSWORD
    with pytest.raises(OperatorPresenceRequired, match="Password changed"):
        accounts.change_expired_password("tino", PW["tino"], NEW)
    assert accounts.people_store.open_sessions() == []
    accounts.people_store.save(replace(get(accounts, "olga"), password_changed_at=clock.now))
    assert accounts.cosign("tino", NEW, "olga", PW["olga"]).session is not None


# ---------------------------------------------------------------------- the open session


def test_sign_out_and_lock(accounts: Accounts, trail: AuditTrail) -> None:
    session = signed_in(accounts, "olga")
    accounts.lock(session)
    assert last(trail).action == "session_locked" and accounts.session_open(session)
    assert accounts.unlock(session, PW["olga"]).unlocked
    assert last(trail).action == "session_unlocked"
    accounts.sign_out(session)
    assert not accounts.session_open(session)
    assert (last(trail).action, last(trail).details["reason"]) == ("logout", "logout")
    count = len(trail.entries())
    accounts.sign_out(session)  # twice: nothing more
    assert len(trail.entries()) == count
    row = accounts.people_store.session(session.id)
    assert row is not None and row.end_reason == "logout"


def test_wrong_unlocks_lock_the_account_and_end_the_session(
        accounts: Accounts, trail: AuditTrail) -> None:
    session = signed_in(accounts, "olga")
    accounts.lock(session)
    for left in (4, 3, 2, 1):
        result = accounts.unlock(session, "Sbagliata-000")
        assert not result.unlocked and not result.signed_out and result.attempts_left == left
    result = accounts.unlock(session, "Sbagliata-000")
    assert result.signed_out and not result.unlocked and "locked" in result.message
    row = accounts.people_store.session(session.id)
    assert row is not None and row.end_reason == "locked_out"
    assert actions(trail)[-3:] == ["login_failed", "account_locked", "logout"]
    assert accounts.unlock(session, PW["olga"]).signed_out


def test_disabling_ends_the_session_and_unlock_says_so(accounts: Accounts) -> None:
    olga = signed_in(accounts, "olga")
    sara = signed_in(accounts, "sara")
    accounts.disable(sara, "olga")
    assert not accounts.session_open(olga)
    assert accounts.unlock(olga, PW["olga"]).signed_out


def test_signature(accounts: Accounts, trail: AuditTrail) -> None:
    session = signed_in(accounts, "ettore")
    assert accounts.verify_signature(session, PW["ettore"])
    assert not accounts.verify_signature(session, "Sbagliata-000")
    assert last(trail).action == "signature_failed"
    assert get(accounts, "ettore").failed_attempts == 1
    for _ in range(4):
        accounts.verify_signature(session, "Sbagliata-000")
    assert get(accounts, "ettore").locked_until is not None
    assert not accounts.verify_signature(session, PW["ettore"])  # locked: cannot sign
    assert last(trail).details["state"] == "locked"


def test_change_own_password(accounts: Accounts, trail: AuditTrail) -> None:
    session = signed_in(accounts, "olga")
    with pytest.raises(WrongCurrentPassword):
        accounts.change_password(session, "Sbagliata-000", NEW)
    assert get(accounts, "olga").failed_attempts == 1
    assert last(trail).action == "login_failed"
    with pytest.raises(PasswordRejected):
        accounts.change_password(session, PW["olga"], "corta")
    updated = accounts.change_password(session, PW["olga"], NEW)
    assert updated.person.password_hash == get(accounts, "olga").password_hash
    assert last(trail).action == "password_changed"
    with pytest.raises(PasswordRejected, match="last 5"):
        accounts.change_password(session, NEW, PW["olga"])


# ---------------------------------------------------------------------- several workstations


def test_two_workstations_count_failures_on_one_account(tmp_path: Path, store: Store,
                                                        accounts: Accounts,
                                                        clock: Clock) -> None:
    with Store.open(tmp_path / "data") as other_store:
        other = Accounts(other_store, AuditTrail(other_store, b"k" * 32, clock), POLICY,
                         clock, workstation="ws-2")
        accounts.sign_in("olga", "Sbagliata-000")
        other.sign_in("olga", "Sbagliata-000")
        accounts.sign_in("olga", "Sbagliata-000")
        assert get(accounts, "olga").failed_attempts == 3
        assert {e.details.get("workstation") for e in
                accounts.audit.entries(action="login_failed")} == {"ws-1", "ws-2"}


def test_a_console_start_closes_the_sessions_its_workstation_left_open(tmp_path: Path) -> None:
    from registry.accounts import STALE

    store = Store.open(tmp_path)
    clock = _StaleClock()
    audit = AuditTrail(store, b"k" * 32, clock)
    here = Accounts(store, audit, clock=clock, workstation="PL-01")
    there = Accounts(store, audit, clock=clock, workstation="PL-02")
    here.bootstrap_supervisor("capo", "Anna Capo", "Sorveglianza-2026!x")
    people = PeopleStore(store)
    left_here = people.open_session("capo", clock(), workstation="PL-01")
    left_there = people.open_session("capo", clock(), workstation="PL-02")
    assert here.close_stale_sessions() == [left_here]
    row = people.session(left_here)
    assert row is not None and row.end_reason == STALE
    assert [r.id for r in people.open_sessions()] == [left_there]  # another console's
    last = audit.entries()[-1]
    assert (last.actor, last.action, last.target) == ("system", "logout", "capo")
    assert last.details["reason"] == STALE
    assert there.close_stale_sessions() == [left_there]
    assert audit.verify().ok
    store.close()


class _StaleClock:
    def __call__(self) -> datetime:
        return datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
