"""Schema 1: the hash-chained audit trail (docs/design/audit-trail.md)."""

VERSION = 1

SQL = """
        CREATE TABLE audit (
            id       INTEGER PRIMARY KEY,
            at       TEXT NOT NULL,
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            target   TEXT NOT NULL DEFAULT '',
            details  TEXT NOT NULL DEFAULT '{}',
            prev_mac TEXT NOT NULL,
            mac      TEXT NOT NULL
        );
        CREATE INDEX audit_at ON audit (at);
        CREATE INDEX audit_actor_at ON audit (actor, at);
        CREATE INDEX audit_action_at ON audit (action, at);
        -- The newest entry, so that removing the last entries is seen (docs/design/audit-trail.md).
        CREATE TABLE audit_head (
            one      INTEGER PRIMARY KEY CHECK (one = 1),
            last_id  INTEGER NOT NULL,
            last_mac TEXT NOT NULL,
            mac      TEXT NOT NULL
        );
        -- Where the chain starts after a legal prune.
        CREATE TABLE audit_checkpoint (
            one      INTEGER PRIMARY KEY CHECK (one = 1),
            last_id  INTEGER NOT NULL,
            last_mac TEXT NOT NULL,
            before   TEXT NOT NULL,
            mac      TEXT NOT NULL
        );
        -- Append-only against mistakes in our own code (an attacker can drop these).
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN
            SELECT RAISE(ABORT, 'audit is append-only');
        END;
        CREATE TRIGGER audit_delete_only_pruned BEFORE DELETE ON audit
        WHEN OLD.id > COALESCE((SELECT last_id FROM audit_checkpoint), 0)
        BEGIN
            SELECT RAISE(ABORT, 'audit is append-only: prune through a checkpoint');
        END;
        """
