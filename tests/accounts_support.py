"""Shared by tests/test_accounts.py and tests/test_people_management.py: the accounts service on
a real SQLite file, with a controlled clock and a real audit trail.

The ``trail`` fixture ends every test by verifying the trail with its head mirror: a refusal
audited inside a transaction that then rolled back would leave the mirror ahead, and the check
would fail. A test module imports the fixture functions (``clock_fixture``, ``store_fixture``,
``trail_fixture``, ``accounts_fixture``) to register the fixtures ``clock``, ``store``,
``trail`` and ``accounts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry.accounts import Accounts
from registry.audit import AuditEntry, AuditTrail
from registry.audit_key import HEAD_FILE, FileHeadMirror
from registry.passwords import HashParameters, PasswordPolicy
from registry.people import Person
from registry.roles import Level
from registry.session import Session
from registry.store import Store
from registry.store_people import PeopleStore

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
POLICY = PasswordPolicy(hashing=CHEAP)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PW = {name: f"Passo-{name.capitalize()}-42" for name in
      ("sara", "sergio", "olga", "ettore", "tino", "amos")}
ROLES = {"sara": "supervisore", "sergio": "supervisore", "olga": "operatore",
         "ettore": "operatore_esperto", "tino": "tecnico", "amos": "amministratore"}
NEW = "Nuova-Parola-77"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)



@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as s:
        yield s


@pytest.fixture(name="trail")
def trail_fixture(store: Store, clock: Clock, tmp_path: Path) -> Iterator[AuditTrail]:
    audit = AuditTrail(store, b"k" * 32, clock, mirror=FileHeadMirror(tmp_path / HEAD_FILE))
    yield audit
    result = audit.verify()
    assert result.ok, result.reason


@pytest.fixture(name="accounts")
def accounts_fixture(store: Store, trail: AuditTrail, clock: Clock) -> Accounts:
    acc = Accounts(store, trail, POLICY, clock, workstation="ws-1")
    people = PeopleStore(store)
    for name, role in ROLES.items():
        people.add(Person(username=name, full_name=name.capitalize() + " Rossi", role=role,
                          level=Level.FIRST, password_hash=POLICY.hash(PW[name]),
                          password_changed_at=T0), T0, "test")
    return acc


def signed_in(accounts: Accounts, name: str) -> Session:
    result = accounts.sign_in(name, PW[name])
    assert result.session is not None, result.message
    return result.session


def actions(trail: AuditTrail, **filters: str) -> list[str]:
    return [e.action for e in trail.entries(**filters)]  # type: ignore[arg-type]


def last(trail: AuditTrail) -> AuditEntry:
    return trail.entries()[-1]


def get(accounts: Accounts, name: str) -> Person:
    person = accounts.people_store.get(name)
    assert person is not None
    return person
