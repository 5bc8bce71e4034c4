"""Managing people on the accounts service: adding, disabling, enabling, resetting, roles, the
supervisor rules, the idle-account sweep, and the first accounts (bootstrap, demo).

Every test ends by verifying the trail with its head mirror (the ``trail`` fixture in
``accounts_support``).
"""

from __future__ import annotations

import pytest
from accounts_support import (
    NEW,
    POLICY,
    PW,
    ROLES,
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

from registry.accounts import (
    DEMO_ACCOUNTS,
    Accounts,
    AlreadyInitialised,
    InvalidUsername,
    ManagementRefused,
    SessionEnded,
    UsernameTaken,
    generate_password,
)
from registry.audit import AuditTrail
from registry.passwords import PasswordRejected
from registry.people import DisabledReason, Outcome
from registry.roles import Level, PermissionDenied, UnknownRole
from registry.store import Store

pytestmark = pytest.mark.usefixtures("english")


# ---------------------------------------------------------------------- managing people


def test_add_person_rules(accounts: Accounts, trail: AuditTrail) -> None:
    sara = signed_in(accounts, "sara")
    person = accounts.add_person(sara, "m.verdi", "  Mario   Verdi ", "operatore", 2, NEW)
    assert (person.full_name, person.level, person.must_change_password) == \
        ("Mario Verdi", Level.SECOND, True)
    entry = last(trail)
    assert (entry.actor, entry.action, entry.target) == ("sara", "account_created", "m.verdi")
    assert accounts.sign_in("m.verdi", NEW).outcome is Outcome.MUST_CHANGE_PASSWORD
    with pytest.raises(UsernameTaken):
        accounts.add_person(sara, "m.verdi", "Mario Verdi", "operatore", 1, NEW)
    for bad in ("MV", "mario verdi", "x" * 33, "Mario", "system", "centrale-init"):
        with pytest.raises(InvalidUsername):
            accounts.add_person(sara, bad, "Mario Verdi", "operatore", 1, NEW)
    with pytest.raises(UnknownRole):
        accounts.add_person(sara, "l.neri", "Luca Neri", "vigile", 1, NEW)
    with pytest.raises(PasswordRejected):
        accounts.add_person(sara, "l.neri", "Luca Neri", "operatore", 1, "l.neri-Password-1")
    assert accounts.people_store.get("l.neri") is None


def test_permission_refusals_are_audited(accounts: Accounts, trail: AuditTrail) -> None:
    olga = signed_in(accounts, "olga")
    with pytest.raises(PermissionDenied):
        accounts.add_person(olga, "m.verdi", "Mario Verdi", "operatore", 1, NEW)
    entry = last(trail)
    assert (entry.actor, entry.action, entry.target) == ("olga", "permission_refused",
                                                         "m.verdi")
    assert entry.details == {"permission": "manage_users", "role": "operatore"}
    for call in (lambda: accounts.people(olga), lambda: accounts.disable(olga, "ettore"),
                 lambda: accounts.enable(olga, "ettore", NEW),
                 lambda: accounts.reset_password(olga, "ettore", NEW),
                 lambda: accounts.change_role(olga, "ettore", "operatore")):
        with pytest.raises(PermissionDenied):
            call()
        assert last(trail).action == "permission_refused"


def test_who_may_list_people(accounts: Accounts) -> None:
    assert [p.username for p in accounts.people(signed_in(accounts, "amos"))] == sorted(ROLES)
    assert len(accounts.people(signed_in(accounts, "sara"))) == len(ROLES)
    with pytest.raises(PermissionDenied):
        accounts.people(signed_in(accounts, "ettore"))


def test_amministratore_cannot_make_or_touch_supervisors(accounts: Accounts,
                                                         trail: AuditTrail) -> None:
    amos = signed_in(accounts, "amos")
    refusals = [
        lambda: accounts.add_person(amos, "n.capo", "Nuovo Capo", "supervisore", 1, NEW),
        lambda: accounts.change_role(amos, "olga", "supervisore"),
        lambda: accounts.reset_password(amos, "sara", NEW),
        lambda: accounts.disable(amos, "sara"),
        lambda: accounts.change_role(amos, "sara", "operatore"),
    ]
    for call in refusals:
        with pytest.raises(ManagementRefused, match="Only a supervisor"):
            call()
        assert (last(trail).action, last(trail).details["reason"]) == \
            ("management_refused", "supervisory_account")
    assert accounts.people_store.get("n.capo") is None
    assert get(accounts, "olga").role == "operatore"
    # but runs the other accounts
    accounts.add_person(amos, "m.verdi", "Mario Verdi", "operatore", 1, NEW)
    accounts.reset_password(amos, "olga", NEW)
    # and a supervisor makes supervisors
    sara = signed_in(accounts, "sara")
    assert accounts.change_role(sara, "olga", "supervisore").role == "supervisore"


def test_nobody_disables_themselves_nor_the_last_supervisor(accounts: Accounts,
                                                            trail: AuditTrail) -> None:
    sara = signed_in(accounts, "sara")
    with pytest.raises(ManagementRefused, match="own account"):
        accounts.disable(sara, "sara")
    accounts.disable(sara, "sergio")
    assert last(trail).action == "account_disabled" and last(trail).actor == "sara"
    with pytest.raises(ManagementRefused, match="last active supervisor"):
        accounts.change_role(sara, "sara", "operatore")
    assert last(trail).details["reason"] == "last_supervisor"
    assert get(accounts, "sara").role == "supervisore"


def test_disable_then_enable(accounts: Accounts, trail: AuditTrail, clock: Clock) -> None:
    sara = signed_in(accounts, "sara")
    olga = signed_in(accounts, "olga")
    accounts.disable(sara, "olga", DisabledReason.ROLE_LOST)
    assert get(accounts, "olga").disabled_reason is DisabledReason.ROLE_LOST
    assert last(trail).details["sessions_ended"] == str(olga.id)
    refused = accounts.sign_in("olga", PW["olga"])
    assert refused.outcome is Outcome.DISABLED and "no longer holds the role" in refused.message
    with pytest.raises(ManagementRefused, match="enable the account"):
        accounts.reset_password(sara, "olga", NEW)
    clock.advance(days=200)  # long unused, then re-enabled: not disabled again at sign-in
    accounts.enable(sara, "olga", NEW)
    assert actions(trail)[-2:] == ["account_enabled", "password_reset"]
    assert accounts.sign_in("olga", NEW).outcome is Outcome.MUST_CHANGE_PASSWORD
    assert accounts.change_expired_password("olga", NEW, "Terza-Parola-99")


def test_reset_password_lifts_the_lock_and_forces_a_change(accounts: Accounts,
                                                           trail: AuditTrail) -> None:
    for _ in range(5):
        accounts.sign_in("ettore", "Sbagliata-000")
    accounts.reset_password(signed_in(accounts, "amos"), "ettore", NEW)
    entry = last(trail)
    assert (entry.actor, entry.action, entry.target) == ("amos", "password_reset", "ettore")
    assert accounts.sign_in("ettore", NEW).outcome is Outcome.MUST_CHANGE_PASSWORD


def test_role_change_ends_the_sessions_and_applies_at_once(accounts: Accounts,
                                                           trail: AuditTrail) -> None:
    sara = signed_in(accounts, "sara")
    amos = signed_in(accounts, "amos")
    accounts.change_role(sara, "amos", "operatore", Level.SECOND)
    assert last(trail).details["from"] == "amministratore"
    with pytest.raises(SessionEnded):
        accounts.people(amos)
    amos = signed_in(accounts, "amos")
    with pytest.raises(PermissionDenied):
        accounts.people(amos)


def test_a_disabled_actor_loses_the_powers_at_once(accounts: Accounts) -> None:
    amos = signed_in(accounts, "amos")
    accounts.disable(signed_in(accounts, "sara"), "amos")
    with pytest.raises(SessionEnded):
        accounts.add_person(amos, "m.verdi", "Mario Verdi", "operatore", 1, NEW)


# ---------------------------------------------------------------------- idle accounts


def test_idle_account_is_disabled_at_sign_in_and_by_the_sweep(
        accounts: Accounts, trail: AuditTrail, clock: Clock) -> None:
    signed_in(accounts, "sara")
    clock.advance(days=100)
    accounts.change_expired_password("ettore", PW["ettore"], NEW)  # used: not idle
    clock.advance(days=80)  # 180 days after T0: olga, sara never used since
    result = accounts.sign_in("olga", PW["olga"])
    assert result.outcome is Outcome.DISABLED and "not used for six months" in result.message
    assert actions(trail, actor="olga")[-2:] == ["account_disabled", "login_refused"]
    swept = accounts.disable_unused()
    assert "ettore" not in swept and "olga" not in swept  # olga is already disabled
    assert set(swept) == {"sara", "sergio", "tino", "amos"}
    assert {e.target for e in trail.entries(actor="system")} == set(swept)
    assert get(accounts, "sara").disabled_reason is DisabledReason.UNUSED
    assert accounts.disable_unused() == []

# ---------------------------------------------------------------------- set-up


def test_bootstrap_only_on_an_empty_database(store: Store, trail: AuditTrail,
                                             clock: Clock) -> None:
    accounts = Accounts(store, trail, POLICY, clock)
    person = accounts.bootstrap_supervisor("capo", "Capo Comando", NEW)
    assert person.role == "supervisore" and not person.must_change_password
    entry = last(trail)
    assert (entry.actor, entry.action, entry.target) == ("centrale-init", "account_created",
                                                         "capo")
    assert accounts.sign_in("capo", NEW).session is not None
    with pytest.raises(AlreadyInitialised):
        accounts.bootstrap_supervisor("vice", "Vice Capo", NEW)
    with pytest.raises(AlreadyInitialised):
        accounts.create_demo_accounts()


def test_demo_accounts_one_per_role_and_each_signs_in(store: Store, trail: AuditTrail,
                                                      clock: Clock) -> None:
    accounts = Accounts(store, trail, POLICY, clock)
    made = accounts.create_demo_accounts()
    assert sorted(role for _u, _p, role in made) == sorted(ROLES[n] for n in ROLES
                                                          if n != "sergio")
    assert made == [(u, p, r) for u, _n, r, p in DEMO_ACCOUNTS]
    operator = next((u, p) for u, p, r in made if r == "operatore")
    for username, password, role in made:
        result = accounts.sign_in(username, password)
        if role == "tecnico":
            assert result.cosigner_required
            assert accounts.cosign(username, password, *operator).session is not None
        else:
            assert result.session is not None and result.session.role.name == role


def test_generated_passwords_meet_the_policy() -> None:
    for _ in range(20):
        password = generate_password(POLICY, "mario")
        assert POLICY.problems(password, "mario") == [] and len(password) == 16
