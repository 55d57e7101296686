"""The schema: catalog, queue and audit log in one database, so a use case is one transaction."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: Named counters (change_id, batch_id) allocated inside the transaction that uses them.
counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

#: Integer keys the service allocates itself (change, event and job ids). ``INTEGER`` on
#: SQLite makes the key the rowid: one B-tree per table, where ``BIGINT`` would add a second
#: one (an automatic index) that every insert writes and every lookup walks.
RowId = BigInteger().with_variant(Integer(), "sqlite")

pending_changes = Table(
    "pending_changes",
    metadata,
    Column("change_id", RowId, primary_key=True, autoincrement=False),
    Column("category", String(32), nullable=False),
    Column("model_name", String(512), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("payload", Text),
    Column("requested_by", String(128), nullable=False),
    Column("requested_username", String(256), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("notes", Text),
    Column("batch_id", BigInteger),
    Column("batch_title", String(256)),
    Column("approved_by", String(128)),
    Column("approved_username", String(256)),
    Column("approved_at", BigInteger),
    Column("rejected_by", String(128)),
    Column("rejected_username", String(256)),
    Column("rejected_at", BigInteger),
    Column("reject_reason", Text),
    Column("applied_at", BigInteger),
    Column("applied_by", String(128)),
    Column("applied_username", String(256)),
    Column("applied_job_id", String(160)),
    Column("updated_at", BigInteger, nullable=False),
    Column("request_metadata", Text),
    Column("related_models", Text),
    Column("base_hash", String(64)),
    Column("lease_expires_at", BigInteger),
    Index("ix_pending_changes_status_id", "status", "change_id"),
    Index("ix_pending_changes_category_id", "category", "change_id"),
    # Partial: a change has no batch until approved or rejected, so proposals never write it.
    Index(
        "ix_pending_changes_batch_id",
        "batch_id",
        "change_id",
        postgresql_where=text("batch_id IS NOT NULL"),
        sqlite_where=text("batch_id IS NOT NULL"),
    ),
    Index("ix_pending_changes_requested_by_id", "requested_by", "change_id"),
    Index("ix_pending_changes_model", "category", "model_name"),
    # Open changes are few and the newest: listing them must not walk the whole history.
    Index(
        "ix_pending_changes_open_id",
        "change_id",
        postgresql_where=text("status IN ('pending', 'approved')"),
        sqlite_where=text("status IN ('pending', 'approved')"),
    ),
)

#: Append-only, hash-chained event log (design.md §4).
audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", RowId, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("domain", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("model_name", String(512), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("action", String(32)),
    Column("change_id", BigInteger),
    Column("batch_id", BigInteger),
    Column("job_id", String(160)),
    Column("logical_user_id", String(128)),
    Column("username", String(256)),
    Column("payload", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_change_id", "change_id"),
    Index(  # partial: most events (every enqueue, every catalog write) belong to no batch
        "ix_audit_events_batch_id",
        "batch_id",
        postgresql_where=text("batch_id IS NOT NULL"),
        sqlite_where=text("batch_id IS NOT NULL"),
    ),
    # Partial: a model's history is its catalog events. Queue events (most of the log) are
    # read by change or batch, and must not tempt the planner into walking all of them.
    Index(
        "ix_audit_events_category_model",
        "category",
        "model_name",
        postgresql_where=text("category <> 'pending_queue'"),
        sqlite_where=text("category <> 'pending_queue'"),
    ),
    Index(  # batch splits and applies, by batch (partial: an enqueue belongs to no batch)
        "ix_audit_events_action",
        "action",
        "batch_id",
        postgresql_where=text("batch_id IS NOT NULL"),
        sqlite_where=text("batch_id IS NOT NULL"),
    ),
)

#: Live catalog: the current record of each (category, name).
catalog_records = Table(
    "catalog_records",
    metadata,
    Column("category", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("record", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("extras", Text),
    Column("position", Integer, nullable=False, default=0),
    Column("updated_at", BigInteger, nullable=False),
)

#: Per-category version (bumped by every catalog write) and upstream-style metadata counters.
catalog_versions = Table(
    "catalog_versions",
    metadata,
    Column("category", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("last_updated", BigInteger),
    Column("last_operation_type", String(16)),
    Column("last_operation_model", String(512)),
    Column("total_creates", BigInteger, nullable=False, default=0),
    Column("total_updates", BigInteger, nullable=False, default=0),
    Column("total_deletes", BigInteger, nullable=False, default=0),
    Column("initialization_time", BigInteger),
    Column("source_sha256", String(64)),
)

#: Local API keys, stored as sha256 hashes (design.md §5).
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("key_prefix", String(16), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("username", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)

#: Work that must happen after a commit and survive crashes (design.md §9): review checks,
#: git publication, webhook deliveries. A row is inserted in the transaction that causes the
#: work, so the job exists if and only if that transaction committed.
outbox_jobs = Table(
    "outbox_jobs",
    metadata,
    Column("job_id", RowId, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    #: What the job is about (e.g. ``change:12``), for lookups and de-duplication.
    Column("subject", String(200)),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", BigInteger, nullable=False),
    Column("lease_expires_at", BigInteger),
    Column("worker", String(64)),
    Column("last_error", Text),
    Column("result", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_outbox_jobs_state_run_after", "state", "run_after"),
    Index("ix_outbox_jobs_subject", "subject"),
)

#: Review checks of a change (service/checks): state, findings and live progress. Identity
#: findings are written at enqueue; the check job's outcome writes the download findings in
#: the transaction that marks the job done, so a result is recorded exactly once.

check_runs = Table(
    "check_runs",
    metadata,
    Column("change_id", RowId, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    #: The outbox job whose result counts (a re-run queues a new one; older ones are ignored).
    Column("job_id", BigInteger),
    Column("identity_findings", Text, nullable=False),
    Column("findings", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    #: How many times a job outcome was recorded for ``job_id`` (exactly-once: 0 or 1).
    Column("completions", Integer, nullable=False),
    Column("progress_field", String(64)),
    Column("bytes_done", BigInteger, nullable=False),
    Column("bytes_total", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
)

#: Identity keys (sha256, URL, folded name, ...) of live records (``change_id`` 0) and of
#: open changes, so duplicate findings at enqueue are one indexed lookup. Kept small: keys of
#: closed changes are pruned whenever the live keys are rebuilt.
check_keys = Table(
    "check_keys",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("change_id", BigInteger, primary_key=True, autoincrement=False),
    Column("category", String(32), primary_key=True),
    Column("model_name", String(512), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("display", Text, nullable=False),
    sqlite_with_rowid=False,  # small rows looked up by key: one B-tree, not two
)

#: The catalog version each category's live keys were built from (rebuilt when it moved).
check_key_versions = Table(
    "check_key_versions",
    metadata,
    Column("category", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

#: One row per catalog version: every applied batch (or single apply), every import, and the
#: baseline of a catalog that existed before versions did. ``version`` comes from a counter
#: allocated under the write lock, in the transaction of the catalog write itself.
catalog_releases = Table(
    "catalog_releases",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", BigInteger, nullable=False),
    #: apply | import | baseline
    Column("source", String(16), nullable=False),
    Column("title", Text),
    Column("job_id", String(160)),
    Column("actor_id", String(128)),
    Column("actor_username", String(256)),
    #: JSON lists: change ids, batch ids, approvers ({user_id, username}), changed categories.
    Column("change_ids", Text, nullable=False),
    Column("batch_ids", Text, nullable=False),
    Column("approvers", Text, nullable=False),
    Column("categories", Text, nullable=False),
    #: JSON object: category -> sha256 of its v2 file, for every category after this version.
    Column("hashes", Text, nullable=False),
    Column("audit_event_id", BigInteger, nullable=False),
    Column("audit_hash", String(64), nullable=False),
)

#: The net effect of each catalog version per record, in the order the catalog took it, with
#: the records byte-for-byte as served (the audit log stores canonical, key-sorted payloads)
#: and what each record was before (so a version's files can be rebuilt after later ones).
catalog_journal = Table(
    "catalog_journal",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("category", String(32), nullable=False),
    #: The record's name; NULL for an import (the whole category was replaced).
    Column("model", String(512)),
    #: create | update | delete | import
    Column("operation", String(16), nullable=False),
    #: JSON: the record after (NULL for a delete); an import: {name: record} in file order.
    Column("after", Text),
    #: JSON: the record before (NULL for a create); an import: [[name, record, extras, pos]...].
    Column("before", Text),
    Column("before_extras", Text),
    Column("before_position", Integer),
    Index("ix_catalog_journal_category_version", "category", "version"),
)

#: Webhook subscriptions. The secret is kept in clear: it signs every delivery (HMAC), so it
#: must be readable by the workers; no read path returns it.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", BigInteger, primary_key=True, autoincrement=False),
    Column("url", Text, nullable=False),
    #: Comma-separated event names (enqueue, approve, reject, withdraw, apply).
    Column("events", String(200), nullable=False),
    #: json | discord
    Column("format", String(16), nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_username", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

#: Approvals recorded under a quorum policy (issue 14): who approved which change and when,
#: what quorum the change needed then, and whether the approval went stale because the live
#: record the change was based on moved.
change_approvals = Table(
    "change_approvals",
    metadata,
    Column("approval_id", BigInteger, primary_key=True, autoincrement=False),
    Column("change_id", BigInteger, nullable=False),
    Column("approved_by", String(128), nullable=False),
    Column("approved_username", String(256), nullable=False),
    Column("approved_at", BigInteger, nullable=False),
    Column("required", Integer, nullable=False),
    Column("stale", Boolean, nullable=False),
    Index("ix_change_approvals_change_id", "change_id", "approval_id"),
)
