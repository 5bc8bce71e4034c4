"""Password policy, argon2id hashes and the account state machine, with a controlled clock."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from registry.passwords import (
    DEFAULT_POLICY,
    HashParameters,
    PasswordPolicy,
    PasswordRejected,
    character_classes,
    hash_password,
    needs_rehash,
    verify_password,
)
from registry.people import (
    ACCOUNT_DISABLED,
    ACCOUNT_LOCKED,
    LOGIN,
    LOGIN_FAILED,
    LOGIN_REFUSED,
    PASSWORD_CHANGE_REQUIRED,
    PASSWORD_CHANGED,
    PASSWORD_REHASHED,
    AccountDisabled,
    DisabledReason,
    Outcome,
    Person,
    WrongCurrentPassword,
    change_password,
    check_sign_in,
    create_person,
    disable,
    enable,
)
from registry.roles import Level

# Cheap hashes keep the tests fast; the defaults are checked separately.
CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
POLICY = PasswordPolicy(hashing=CHEAP)
T0 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
GOOD = "Verde-Prato-42"
OTHER = "Rosso!Tetto77"


def person(**changes: object) -> Person:
    base = Person(
        username="m.rossi",
        full_name="Mario Rossi",
        role="operatore",
        level=Level.FIRST,
        password_hash=hash_password(GOOD, CHEAP),
        password_changed_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- rules, each with good and bad examples ---------------------------------------------


@pytest.mark.parametrize(
    ("password", "classes"),
    [("abc", 1), ("abcABC", 2), ("abcABC123", 3), ("abcABC123!", 4), ("àÈ9 ", 4), ("", 0)],
)
def test_character_classes(password: str, classes: int) -> None:
    assert character_classes(password) == classes


@pytest.mark.parametrize(
    "password",
    ["Verde-Prato-42", "abcdefgh12!!", "ABCDEFGH12!!", "abcdefGHIJ12", "tre parole Lunghe"],
)
def test_acceptable_passwords(password: str) -> None:
    assert POLICY.problems(password, "m.rossi") == []
    POLICY.check(password, "m.rossi")


def test_length() -> None:
    assert POLICY.problems("Abc-1234567", "x.y") != []  # 11 characters
    assert POLICY.problems("Abc-12345678", "x.y") == []  # 12
    assert len(POLICY.problems("Ab1-" * 40, "x.y")) == 1  # 160 > 128


@pytest.mark.parametrize(
    "password", ["abcdefghijkl", "abcdefghijk1", "ABCDEFGH-XYZ", "123456789012"]
)
def test_too_few_kinds(password: str) -> None:
    (reason,) = POLICY.problems(password, "x.y")
    assert "3" in reason


def test_user_name_inside_any_case() -> None:
    assert len(POLICY.problems("xxM.ROSSI-2024", "m.rossi")) == 1
    assert POLICY.problems("xxM.ROSSO-2024", "m.rossi") == []


def test_configurable() -> None:
    lax = PasswordPolicy(min_length=8, min_classes=2, hashing=CHEAP)
    assert lax.problems("abcdef12", "x.y") == []
    assert POLICY.problems("abcdef12", "x.y") != []


def test_message_lists_every_unmet_rule() -> None:
    recent = [hash_password("rossi", CHEAP)]
    with pytest.raises(PasswordRejected) as caught:
        POLICY.check("rossi", "rossi", recent)
    reasons = caught.value.reasons
    assert len(reasons) == 4  # length, kinds, user name, reuse
    for reason in reasons:
        assert f"- {reason}" in caught.value.message
    assert caught.value.title == "Password rejected"


# --- history -------------------------------------------------------------------------------


def test_no_reuse_of_the_last_five() -> None:
    passwords = [f"Parola-{i}-Lunga" for i in range(7)]
    p = person(password_hash=hash_password(passwords[0], CHEAP))
    now = T0
    for old, new in itertools.pairwise(passwords[:6]):
        now += timedelta(days=1)
        p, events = change_password(p, old, new, POLICY, now)
        assert [e.action for e in events] == [PASSWORD_CHANGED]
    # Current is passwords[5]; the last five are passwords[1..5].
    assert len(p.recent_hashes()) == 5
    for reused in passwords[1:6]:
        with pytest.raises(PasswordRejected):
            change_password(p, passwords[5], reused, POLICY, now)
    p, _ = change_password(p, passwords[5], passwords[0], POLICY, now)  # six back: allowed
    assert verify_password(p.password_hash, passwords[0])


def test_change_password_errors() -> None:
    p = person()
    with pytest.raises(WrongCurrentPassword):
        change_password(p, "not-it", OTHER, POLICY, T0)
    with pytest.raises(PasswordRejected):
        change_password(p, GOOD, "short", POLICY, T0)
    disabled, _ = disable(p, DisabledReason.REVOKED)
    with pytest.raises(AccountDisabled):
        change_password(disabled, GOOD, OTHER, POLICY, T0)
    changed, _ = change_password(p, GOOD, OTHER, POLICY, T0 + timedelta(days=3))
    assert changed.password_changed_at == T0 + timedelta(days=3)
    assert changed.password_history == (p.password_hash,)


# --- expiry --------------------------------------------------------------------------------


def test_expiry_at_exactly_ninety_days() -> None:
    p = person()
    just_before = T0 + timedelta(days=90) - timedelta(seconds=1)
    assert check_sign_in(p, GOOD, POLICY, just_before).outcome is Outcome.OK
    result = check_sign_in(p, GOOD, POLICY, T0 + timedelta(days=90))
    assert result.outcome is Outcome.MUST_CHANGE_PASSWORD
    assert [e.action for e in result.events] == [PASSWORD_CHANGE_REQUIRED]
    assert result.message()
    # After the change, signing in works again.
    now = T0 + timedelta(days=90)
    changed, _ = change_password(result.person, GOOD, OTHER, POLICY, now)
    assert check_sign_in(changed, OTHER, POLICY, now).outcome is Outcome.OK


def test_new_account_must_change_its_first_password() -> None:
    p = create_person("l.verdi", "Lucia Verdi", "operatore", Level.FIRST, GOOD, POLICY, T0)
    assert check_sign_in(p, GOOD, POLICY, T0).outcome is Outcome.MUST_CHANGE_PASSWORD
    p, _ = change_password(p, GOOD, OTHER, POLICY, T0)
    assert check_sign_in(p, OTHER, POLICY, T0).outcome is Outcome.OK
    with pytest.raises(PasswordRejected):
        create_person("l.verdi", "Lucia Verdi", "operatore", Level.FIRST, "l.verdi", POLICY, T0)


# --- lockout -------------------------------------------------------------------------------


def test_lockout_after_five_failures_and_its_end() -> None:
    p = person()
    now = T0 + timedelta(days=1)
    for left in (4, 3, 2, 1):
        result = check_sign_in(p, "wrong", POLICY, now)
        assert result.outcome is Outcome.WRONG_PASSWORD
        assert result.attempts_left == left
        assert [e.action for e in result.events] == [LOGIN_FAILED]
        assert str(left) in result.message()
        p = result.person
    result = check_sign_in(p, "wrong", POLICY, now)
    assert result.outcome is Outcome.LOCKED
    assert result.locked_until == now + timedelta(minutes=15)
    assert [e.action for e in result.events] == [LOGIN_FAILED, ACCOUNT_LOCKED]
    p = result.person
    # Even the right password is refused while locked.
    locked = check_sign_in(p, GOOD, POLICY, now + timedelta(minutes=15) - timedelta(seconds=1))
    assert locked.outcome is Outcome.LOCKED
    assert [e.action for e in locked.events] == [LOGIN_REFUSED]
    assert locked.message()
    # At exactly 15 minutes the lock is over.
    after = check_sign_in(locked.person, GOOD, POLICY, now + timedelta(minutes=15))
    assert after.outcome is Outcome.OK
    assert after.person.locked_until is None and after.person.failed_attempts == 0


def test_a_lapsed_lock_starts_a_fresh_count() -> None:
    p = person(locked_until=T0 + timedelta(minutes=15))
    result = check_sign_in(p, "wrong", POLICY, T0 + timedelta(minutes=20))
    assert result.outcome is Outcome.WRONG_PASSWORD and result.attempts_left == 4


def test_success_resets_the_counter() -> None:
    p = person(failed_attempts=4)
    result = check_sign_in(p, GOOD, POLICY, T0 + timedelta(hours=1))
    assert result.ok
    assert result.person.failed_attempts == 0
    assert result.person.last_login_at == T0 + timedelta(hours=1)
    assert [e.action for e in result.events] == [LOGIN]
    # The next failure counts from one again.
    again = check_sign_in(result.person, "wrong", POLICY, T0 + timedelta(hours=2))
    assert again.attempts_left == 4


# --- idle and disabled ---------------------------------------------------------------------


def test_idle_disable_at_six_months() -> None:
    last = T0 + timedelta(days=10)
    p = person(last_login_at=last, password_changed_at=last)
    fine = check_sign_in(p, GOOD, POLICY, last + timedelta(days=80))
    assert fine.ok
    p = person(last_login_at=last, password_changed_at=last + timedelta(days=100))
    ok = check_sign_in(p, GOOD, POLICY, last + timedelta(days=180) - timedelta(seconds=1))
    assert ok.ok
    result = check_sign_in(p, GOOD, POLICY, last + timedelta(days=180))
    assert result.outcome is Outcome.DISABLED
    assert result.disabled_reason is DisabledReason.UNUSED
    assert not result.person.active
    assert [e.action for e in result.events] == [ACCOUNT_DISABLED, LOGIN_REFUSED]
    assert result.message()
    # Stays disabled, without disabling twice.
    later = check_sign_in(result.person, GOOD, POLICY, last + timedelta(days=181))
    assert later.outcome is Outcome.DISABLED
    assert [e.action for e in later.events] == [LOGIN_REFUSED]


def test_never_signed_in_counts_from_creation() -> None:
    p = person()
    assert check_sign_in(p, GOOD, POLICY, T0 + timedelta(days=180)).outcome is Outcome.DISABLED


def test_disable_and_enable() -> None:
    p, events = disable(person(), DisabledReason.ROLE_LOST)
    assert not p.active and p.disabled_reason is DisabledReason.ROLE_LOST
    assert events[0].details == {"reason": "role_lost"}
    assert disable(p, DisabledReason.REVOKED) == (p, [])
    refused = check_sign_in(p, GOOD, POLICY, T0)
    assert refused.outcome is Outcome.DISABLED
    assert refused.disabled_reason is DisabledReason.ROLE_LOST
    p, _ = enable(p)
    assert p.active and p.must_change_password


# --- hashes --------------------------------------------------------------------------------


def test_argon2id_and_verify() -> None:
    h = hash_password(GOOD, CHEAP)
    assert h.startswith("$argon2id$")
    assert verify_password(h, GOOD)
    assert not verify_password(h, OTHER)
    assert not verify_password("not a hash", GOOD)


def test_default_parameters_suit_two_cores() -> None:
    assert DEFAULT_POLICY.hashing.parallelism == 2
    assert DEFAULT_POLICY.hashing.memory_cost_kib >= 64 * 1024
    h = hash_password(GOOD)
    assert "m=65536,t=3,p=2" in h
    assert not needs_rehash(h)


def test_rehash_at_sign_in() -> None:
    weak = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
    stronger = PasswordPolicy(hashing=HashParameters(time_cost=2, memory_cost_kib=16,
                                                     parallelism=1))
    p = person(password_hash=hash_password(GOOD, weak))
    assert stronger.needs_rehash(p.password_hash)
    assert needs_rehash("garbage")
    result = check_sign_in(p, GOOD, stronger, T0)
    assert [e.action for e in result.events] == [PASSWORD_REHASHED, LOGIN]
    assert result.person.password_hash != p.password_hash
    assert not stronger.needs_rehash(result.person.password_hash)
    assert verify_password(result.person.password_hash, GOOD)
    assert result.person.password_changed_at == T0  # a rehash is not a change
    # A wrong password never rehashes.
    wrong = check_sign_in(p, OTHER, stronger, T0)
    assert wrong.person.password_hash == p.password_hash
