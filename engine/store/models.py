"""The tables. Records are projections; ``events`` is the append-only truth beside them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.store.types import JSONData, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    head_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    #: Where an organisation sync brought it from (dingtalk, wecom, feishu, ldap); None = made here.
    source: Mapped[str | None] = mapped_column(String(24))
    external_id: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        Index("uq_departments_source_external_id", "source", "external_id", unique=True),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Away (leave, holiday): dispatch and balancing skip the user; assigned work stays theirs.
    is_away: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: IANA time zone the user's pages show dates in.
    tz: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", server_default="Asia/Shanghai")
    #: Failed logins in a row; at the limit the account is locked until ``locked_until``.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The organisation source that keeps this user (None = kept in Gongdan by an admin).
    source: Mapped[str | None] = mapped_column(String(24))


class App(Base):
    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[dict[str, Any]] = mapped_column(JSONData)
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppVersion(Base):
    """An immutable published version of an app definition."""

    __tablename__ = "app_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONData)
    checksum: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("app_id", "version"),)


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id"))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[dict[str, Any]] = mapped_column(JSONData)
    #: Which tickets of the app members see: own, department or all (from the app definition).
    scope: Mapped[str] = mapped_column(String(16), default="own", server_default="own")
    __table_args__ = (UniqueConstraint("app_id", "key"),)


class RoleMember(Base):
    __tablename__ = "role_members"
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    #: Share of the team's work in weighted balancing (2 gets twice as many tickets as 1).
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Counter(Base):
    """Gap-free sequences for human ticket numbers, one row per (app, type, period)."""

    __tablename__ = "counters"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Record(Base):
    """A ticket: the current projection of its events, kept in the same transaction."""

    __tablename__ = "records"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    app_version: Mapped[int] = mapped_column(Integer)
    ticket_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    stage: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    data: Mapped[dict[str, Any]] = mapped_column(JSONData)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: The key of the row an import brought it from (a sheet's ticket number): re-importing the
    #: same sheet finds it instead of creating a duplicate.
    external_ref: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (
        Index("ix_records_app_type_created", "app_id", "ticket_type", "created_at"),
        Index("ix_records_app_stage", "app_id", "stage"),
        Index("uq_records_app_type_external_ref", "app_id", "ticket_type", "external_ref", unique=True),
        #: reports read a ticket's stage from here, not from the wide rows (see migration 0011)
        Index("ix_records_app_type_stage", "app_id", "ticket_type", "id", "stage"),
    )


class Event(Base):
    """Append-only history of a record: what happened, who did it, when, old and new values."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData)
    # One index besides the key: every extra B-tree is one more page written per command.
    # Reports read the metrics table, not the event log, so no (type, at) index is needed here.
    __table_args__ = (UniqueConstraint("record_id", "seq"),)


class FlowInstance(Base):
    __tablename__ = "flow_instances"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    app_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    tokens: Mapped[list[str]] = mapped_column(JSONData)
    #: Stepping state beyond the tokens: join arrivals expected, subprocess links, return counts.
    state: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict, server_default="{}")
    parent_instance_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    parent_node: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Task(Base):
    """A piece of work waiting for a person (or a group) at one flow node."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("flow_instances.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    candidates: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(40))
    #: task (work) or approval; approvals of one node entry share a group and a mode.
    kind: Mapped[str] = mapped_column(String(16), default="task", server_default="task")
    group_key: Mapped[str | None] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: waiting tasks open when the task they wait for is decided (sequential, add-signer before)
    waits_for: Mapped[int | None] = mapped_column(BigInteger)
    delegated_from: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The pool an unassigned task waits in, as text for the team queue: "role:KEY", "department:ID".
    pool_key: Mapped[str | None] = mapped_column(String(80))
    __table_args__ = (
        Index("ix_tasks_assignee_status", "assignee_id", "status"),
        Index("ix_tasks_pool_status", "pool_key", "status"),
        Index("ix_tasks_status_due", "status", "due_at"),
    )


class Timer(Base):
    """Something due at a moment: a timer node, an SLA escalation level, a task reminder.

    The worker's tick fires due pending timers in batches (``status`` flips from pending to fired
    in the firing transaction, so each fires once); a worker that was down catches up.
    """

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    node_id: Mapped[str | None] = mapped_column(String(40))
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    clock_id: Mapped[int | None] = mapped_column(BigInteger)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_timers_status_due", "status", "due_at"),)


class SlaClock(Base):
    """One SLA target of one node visit, counted in business seconds on a calendar.

    Running clocks pause while the ticket is in a paused stage (waiting on the customer) and
    resume with what is left; ``levels`` lists the escalation levels already fired.
    """

    __tablename__ = "sla_clocks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(16))  # response | resolution
    calendar: Mapped[str] = mapped_column(String(40))
    budget_s: Mapped[float] = mapped_column(Float)
    used_s: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|paused|met|breached
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    levels: Mapped[list[Any]] = mapped_column(JSONData, default=list)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RuleRun(Base):
    """One rule meeting one event: whether its condition held, what its actions did, how long, errors."""

    __tablename__ = "rule_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    app_version: Mapped[int] = mapped_column(Integer)
    ticket_type: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(120))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    trigger: Mapped[str] = mapped_column(String(80))
    event_seq: Mapped[int | None] = mapped_column(Integer)
    matched: Mapped[bool] = mapped_column(Boolean)
    actions: Mapped[list[Any]] = mapped_column(JSONData, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_rule_runs_record", "record_id", "id"),
        Index("ix_rule_runs_rule", "app_id", "ticket_type", "rule", "id"),
    )


class Watcher(Base):
    """Someone who follows a ticket (notified of its changes) without working on it."""

    __tablename__ = "watchers"
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Outbox(Base):
    """An external effect waiting to be delivered after commit (mail, IM, webhook)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class Schedule(Base):
    """A timer or cron trigger that the worker's tick fires when due."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    cron: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (Index("ix_schedules_enabled_next", "enabled", "next_run_at"),)


class UniqueValue(Base):
    """Claims of values of ``unique`` fields, one per (app, ticket type, field, value).

    The primary key makes uniqueness the database's job: two tickets racing for the same value
    cannot both commit, whichever database runs underneath.
    """

    __tablename__ = "unique_values"
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    ticket_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)


class TicketMetrics(Base):
    """A ticket's process metrics, folded from its events in the command that appended them.

    Reports read this table (and ``records`` for form fields), never the event log; ``state`` is the
    fold's running state, so each command folds only its own events. ``gongdan reports rebuild``
    recomputes every row from the events with identical results.
    """

    __tablename__ = "ticket_metrics"
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), primary_key=True, autoincrement=False)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    ticket_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_hours: Mapped[float | None] = mapped_column(Float)
    first_response_business_hours: Mapped[float | None] = mapped_column(Float)
    resolution_hours: Mapped[float | None] = mapped_column(Float)
    resolution_business_hours: Mapped[float | None] = mapped_column(Float)
    waiting_hours: Mapped[float] = mapped_column(Float, default=0.0)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    response_breached: Mapped[bool | None] = mapped_column(Boolean)
    resolution_breached: Mapped[bool | None] = mapped_column(Boolean)
    sla_breached: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    team: Mapped[str | None] = mapped_column(String(40))
    calendar: Mapped[str] = mapped_column(String(40))
    #: Each SLA target of each node: {"fix.resolution": {"status", "breached", "visits"}}.
    sla: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    __table_args__ = (
        Index("ix_ticket_metrics_app_type_created", "app_id", "ticket_type", "created_at"),
        Index("ix_ticket_metrics_owner", "owner_id"),
        #: team-by-time reports read it in team order (see migration 0009)
        Index(
            "ix_ticket_metrics_team",
            *("team", "app_id", "ticket_type", "created_at", "resolution_hours", "sla_breached"),
        ),
        #: every column a report reads, so a report over a ticket type reads this index and not the
        #: rows, which carry the fold's state; PostgreSQL only (see migration 0011)
        Index(
            "ix_ticket_metrics_report",
            *("app_id", "ticket_type", "created_at", "status", "closed_at", "team", "owner_id"),
            *("created_by", "satisfaction", "sla_breached", "response_breached", "resolution_breached"),
            *("first_response_at", "first_response_hours", "first_response_business_hours"),
            *("resolution_hours", "resolution_business_hours", "waiting_hours", "transfers", "returns"),
            *("reopens", "record_id"),
            sqlite_where=text("0"),
        ),
    )


class TicketStageTime(Base):
    """Time a ticket spent in one stage (kind ``stage``) or with one person (kind ``user``)."""

    __tablename__ = "ticket_stage_times"
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[float] = mapped_column(Float, default=0.0)
    business_hours: Mapped[float] = mapped_column(Float, default=0.0)


class InboundMessage(Base):
    """A message received on an inbound channel (mail, webhook, IM robot) and the ticket it went to.

    ``(channel, message_id)`` is unique, and the row is written in the command that created the ticket
    or added the comment: a second delivery of the same message, even a concurrent one, finds the
    first one's ticket instead of making another. Replies naming a received message id thread here.
    """

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(255))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("channel", "message_id"),)


class Session(Base):
    """A browser login: the cookie carries a random token, the database only its SHA-256."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A personal API token for integrations: stored hashed, scoped, revocable."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONData, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One admin (or security) action: who did what to which thing, from where."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class SavedView(Base):
    """An inbox or list filter a user saved under a name."""

    __tablename__ = "saved_views"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    page: Mapped[str] = mapped_column(String(40), default="inbox")
    filters: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("user_id", "page", "name"),)


class Attachment(Base):
    """An uploaded file: who uploaded it and, once used, the ticket it belongs to (for permission
    checks on download)."""

    __tablename__ = "attachments"
    file_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    field: Mapped[str | None] = mapped_column(String(80))


class ChannelSetting(Base):
    """A channel's address set by an admin in the web admin (overrides the environment variable):
    its URL may carry secrets, so it is written, never shown again (only masked)."""

    __tablename__ = "channel_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AppDraft(Base):
    """The one shared draft of an app that the designers edit; ``revision`` grows with every save
    so a second editor's stale save is refused with what changed (compare-and-set)."""

    __tablename__ = "app_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_key: Mapped[str] = mapped_column(String(40), unique=True)
    #: The published version the draft started from (None for a new app).
    base_version: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONData)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class UserIdentity(Base):
    """A sign-in identity from an outside provider (oidc, ldap, dingtalk, wecom, feishu) that
    belongs to a Gongdan user: the provider's stable subject, never its display name."""

    __tablename__ = "user_identities"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(191))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("provider", "subject"),)


class OrgSyncRun(Base):
    """One organisation sync from a source: what it found and changed, or why it stopped."""

    __tablename__ = "org_sync_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))  # running | done | held | failed
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    #: A source's change cursor for the next incremental sync.
    cursor: Mapped[str | None] = mapped_column(Text)


class CallbackNonce(Base):
    """A signed callback already accepted (IM card buttons, inbound webhooks): a replay of the
    same nonce is refused."""

    __tablename__ = "callback_nonces"
    provider: Mapped[str] = mapped_column(String(24), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(191), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class ImportJob(Base):
    """A sheet of existing tickets being brought in: its mapping, progress and every row's errors.
    Resumable: ``done_rows`` says where to go on (rows checked while ``checking``, imported while
    ``running``); idempotent through ``Record.external_ref``."""

    __tablename__ = "import_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    ticket_type: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str | None] = mapped_column(String(80))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # checking | checked | running | done | failed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSONData, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # the heartbeat
    #: The worker holding the job's check or run; progress is written only under this token.
    claim_token: Mapped[str | None] = mapped_column(String(32))


class ImportMapping(Base):
    """A saved column-to-field mapping, so next month's sheet maps itself."""

    __tablename__ = "import_mappings"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    ticket_type: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONData)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("app_id", "ticket_type", "name"),)
