"""Append-only, hash-chained audit trail (R13; DESIGN.md "People, roles and the register").

Each entry carries ``mac = HMAC-SHA256(key, canonical JSON of (id, at, actor, action,
target, details, prev_mac))`` where ``prev_mac`` is the previous entry's MAC (``GENESIS``
for the first). Ids are consecutive. The newest id and MAC are kept in ``audit_head``
(with a MAC of their own) and mirrored next to the key, outside the database, so that
removing the newest entries shows too. A legal prune (older than 6 months at least)
leaves a checkpoint, from which the remaining chain still verifies.

Invariants and threat model: docs/design/audit-trail.md. SQL lives in registry/store.py.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from registry.audit_key import HeadMirror, MirroredHead, load_audit_key
from registry.clock import format_at, parse_at, utc_now
from registry.errors import CentraleError
from registry.i18n import N_
from registry.store import AuditCheckpointRow, AuditHeadRow, AuditRow, Store

#: ``prev_mac`` of the very first entry.
GENESIS: Final = "0" * 64
#: R13: login/logout traces are kept at least 6 months. Never configurable below this.
LEGAL_MIN_RETENTION_MONTHS: Final = 6


class AuditError(CentraleError):
    """The audit trail refused an operation (e.g. a prune younger than the law allows)."""

    title = N_("Audit trail")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_mac: str
    mac: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str


def months_before(at: datetime, months: int) -> datetime:
    """The same day and time *months* calendar months earlier (clamped to month end)."""
    total = at.year * 12 + (at.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    return at.replace(year=year, month=month,
                      day=min(at.day, calendar.monthrange(year, month)[1]))


def canonical_details(details: Mapping[str, Any] | None) -> str:
    try:
        return json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise AuditError(f"audit details must be plain JSON: {e}") from e


def _mac(key: bytes, *fields: object) -> str:
    payload = json.dumps(list(fields), separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def entry_mac(key: bytes, row: AuditRow) -> str:
    return _mac(key, row.id, row.at, row.actor, row.action, row.target, row.details,
                row.prev_mac)


def _head_mac(key: bytes, last_id: int, last_mac: str) -> str:
    return _mac(key, "head", last_id, last_mac)


def _checkpoint_mac(key: bytes, last_id: int, last_mac: str, before: str) -> str:
    return _mac(key, "checkpoint", last_id, last_mac, before)


def _entry(row: AuditRow) -> AuditEntry:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"_unreadable": row.details}
    return AuditEntry(row.id, parse_at(row.at), row.actor, row.action, row.target,
                      details if isinstance(details, dict) else {"_value": details},
                      row.prev_mac, row.mac)


class AuditTrail:
    """The audit trail of one :class:`Store`, signed with *key*."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        clock: Callable[[], datetime] = utc_now,
        *,
        mirror: HeadMirror | None = None,
        min_retention_months: int = LEGAL_MIN_RETENTION_MONTHS,
    ) -> None:
        if len(key) < 16:
            raise AuditError("the audit key is too short")
        if min_retention_months < LEGAL_MIN_RETENTION_MONTHS:
            raise AuditError(
                f"audit entries must be kept at least {LEGAL_MIN_RETENTION_MONTHS} months "
                f"(R13), not {min_retention_months}"
            )
        self._store = store
        self._key = key
        self._clock = clock
        self._mirror = mirror
        self.min_retention_months = min_retention_months

    # ---------------------------------------------------------------- writing

    def append(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Add one entry: one INSERT and one head update in one transaction."""
        at = format_at(self._clock())
        text = canonical_details(details)
        with self._store.transaction():
            row = self._append_row(at, actor, action, target, text)
        self._save_mirror(row)
        return _entry(row)

    def _append_row(self, at: str, actor: str, action: str, target: str,
                    details: str) -> AuditRow:
        head = self._store.audit_head()
        if head is not None:
            last_id, prev = head.last_id, head.last_mac
        else:
            checkpoint = self._store.audit_checkpoint()
            last_id, prev = ((checkpoint.last_id, checkpoint.last_mac) if checkpoint
                             else (0, GENESIS))
        unsigned = AuditRow(last_id + 1, at, actor, action, target, details, prev, "")
        row = AuditRow(unsigned.id, at, actor, action, target, details, prev,
                       entry_mac(self._key, unsigned))
        self._store.audit_insert(row)
        self._store.audit_set_head(
            AuditHeadRow(row.id, row.mac, _head_mac(self._key, row.id, row.mac))
        )
        return row

    def _save_mirror(self, row: AuditRow) -> None:
        # After the commit, also when this append joined an outer transaction: a mirror
        # ahead of the chain would look like a truncation. A crash in between leaves it one
        # step behind, which verify() tells apart from a truncation.
        mirror = self._mirror
        if mirror is not None:
            self._store.after_commit(lambda: mirror.save(MirroredHead(row.id, row.mac)))

    # ---------------------------------------------------------------- reading

    def entries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries with ``since <= at < until``, oldest first."""
        rows = self._store.audit_query(
            since=format_at(since) if since is not None else None,
            until=format_at(until) if until is not None else None,
            actor=actor, action=action, limit=limit,
        )
        return [_entry(r) for r in rows]

    # ---------------------------------------------------------------- verifying

    def verify(self) -> VerifyResult:
        """Walk the whole chain; report the first id where it stops being genuine.

        Reads one snapshot of the database, so entries appended meanwhile by consoles and
        the recorder are neither half-seen nor taken for tampering. The mirror is read
        before the snapshot: it is written after each commit, so it can only be at or
        behind the snapshot, unless entries were really removed.
        """
        mirrored = self._mirror.load() if self._mirror is not None else None
        with self._store.snapshot() as snapshot:
            return self._verify(snapshot, mirrored)

    def _verify(self, store: Store, mirrored: MirroredHead | None) -> VerifyResult:
        key = self._key
        checkpoint = store.audit_checkpoint()
        head = store.audit_head()
        checked = 0

        def bad(entry_id: int | None, reason: str) -> VerifyResult:
            return VerifyResult(False, checked, entry_id, reason)

        if checkpoint is not None:
            want = _checkpoint_mac(key, checkpoint.last_id, checkpoint.last_mac,
                                   checkpoint.before)
            if not hmac.compare_digest(checkpoint.mac, want):
                return bad(checkpoint.last_id + 1,
                           "the prune checkpoint was altered or made with another key")
            expected_id, expected_prev = checkpoint.last_id + 1, checkpoint.last_mac
        else:
            expected_id, expected_prev = 1, GENESIS

        for row in store.audit_rows():
            if row.id != expected_id:
                if row.id < expected_id:
                    return bad(row.id, f"entry {row.id} lies before the prune checkpoint")
                return bad(expected_id, f"entry {expected_id} is missing "
                           f"(the next one present is {row.id})")
            if not hmac.compare_digest(row.mac, entry_mac(key, row)):
                return bad(row.id, f"entry {row.id} was altered, forged or made with "
                           "another key")
            if row.prev_mac != expected_prev:
                return bad(row.id, f"entry {row.id} does not follow entry {row.id - 1} "
                           "(inserted, moved or the previous one replaced)")
            checked += 1
            expected_id, expected_prev = row.id + 1, row.mac
        last_id, last_mac = expected_id - 1, expected_prev

        if head is None:
            if checked or checkpoint is not None:
                return bad(last_id + 1, "the chain's head record is missing")
        else:
            if not hmac.compare_digest(head.mac, _head_mac(key, head.last_id, head.last_mac)):
                return bad(last_id + 1, "the chain's head record was altered")
            if head.last_id > last_id:
                return bad(last_id + 1, f"entries {last_id + 1}..{head.last_id} were removed "
                           "from the end")
            if head.last_id != last_id or head.last_mac != last_mac:
                return bad(head.last_id + 1, "the chain's head record is older than the "
                           "entries (replayed head)")

        if self._mirror is not None:
            if mirrored is None:
                if checked or checkpoint is not None:
                    return bad(None, "the head mirror next to the key is missing")
            elif mirrored.last_id > last_id:
                return bad(last_id + 1, f"entries {last_id + 1}..{mirrored.last_id} were "
                           "removed (the head mirror next to the key is ahead)")
            elif mirrored.last_id == last_id and mirrored.last_mac != last_mac:
                return bad(last_id, f"entry {last_id} differs from the head mirror")
            elif mirrored.last_id < last_id:
                # Behind: a crash between commit and mirror write. Fine if it matches.
                kept = store.audit_row(mirrored.last_id)
                at_checkpoint = (checkpoint is not None
                                 and checkpoint.last_id == mirrored.last_id
                                 and checkpoint.last_mac == mirrored.last_mac)
                if not at_checkpoint and (kept is None or kept.mac != mirrored.last_mac):
                    return bad(None, "the head mirror next to the key does not match the "
                               "chain")
        return VerifyResult(True, checked, None, "")

    # ---------------------------------------------------------------- pruning

    def prune(self, older_than: datetime) -> int:
        """Remove the entries older than *older_than*; return how many.

        Refuses a limit younger than the minimum retention (6 months, R13) and a chain that
        does not verify (the evidence would be destroyed). Leaves a checkpoint and appends
        an ``audit.prune`` entry, so the remaining chain still verifies.
        """
        now = self._clock()
        oldest_allowed = months_before(now, self.min_retention_months)
        if older_than > oldest_allowed:
            raise AuditError(
                f"audit entries are kept at least {self.min_retention_months} months: "
                f"cannot remove entries newer than {format_at(oldest_allowed)}"
            )
        result = self.verify()
        if not result.ok:
            raise AuditError(f"the audit trail does not verify, nothing pruned: {result.reason}")
        before = format_at(older_than)
        with self._store.transaction():
            first_kept = self._store.audit_first_id_at_or_after(before)
            head = self._store.audit_head()
            checkpoint = self._store.audit_checkpoint()
            first_id = checkpoint.last_id + 1 if checkpoint else 1
            last_pruned = (first_kept - 1) if first_kept is not None else (
                head.last_id if head else 0)
            if last_pruned < first_id:
                return 0
            last = self._store.audit_row(last_pruned)
            if last is None:
                raise AuditError(f"entry {last_pruned} is missing, nothing pruned")
            count = self._store.audit_prune(AuditCheckpointRow(
                last.id, last.mac, before,
                _checkpoint_mac(self._key, last.id, last.mac, before),
            ))
            row = self._append_row(
                format_at(now), "system", "audit.prune", "",
                canonical_details({"before": before, "first_id": first_id,
                                   "last_id": last.id, "count": count}),
            )
        self._save_mirror(row)
        return count


def open_audit_trail(
    store: Store,
    data_dir: Path,
    key_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AuditTrail:
    """The trail of *store*, with its key found (or, for an empty trail, created)."""
    empty = store.audit_head() is None and store.audit_count() == 0
    found = load_audit_key(data_dir, key_dir, create=empty, environ=environ)
    return AuditTrail(store, found.key, clock, mirror=found.mirror)
