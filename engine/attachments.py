"""Uploaded files as tickets use them: who uploaded each, which ticket and field hold it, who may
download it.

- :func:`record_upload` stores the bytes (engine.files: sniffed, size-limited, cleaned name) and
  writes the ``attachments`` row; the file belongs to its uploader until a ticket uses it.
- :func:`link_files` is a reactor: in the same transaction as any command that puts file
  references into a ticket (created, fields changed, a comment with attachments) it checks that a
  person only uses their own unused uploads (or files already on this ticket) with the metadata the
  upload returned, and links each file to the ticket and field. A forged or borrowed reference
  refuses the whole command (422, with the field path).
- :func:`downloadable` decides downloads: the uploader, or anyone who can see the ticket holding
  the file when the field holding it is not hidden from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from engine.access import Principal, can_see
from engine.errors import FormError, Problem
from engine.files import Storage, StoredFile, Stream
from engine.i18n import register
from engine.reactions import CommandContext, reactor
from engine.specs import AppSpec, TypeSpec
from engine.store.db import Database
from engine.store.models import App, Attachment, Event, Record
from engine.store.types import utcnow
from engine.timeline import is_internal, is_requester

AT, R, A, E = Attachment.__table__, Record.__table__, App.__table__, Event.__table__
FILE_TYPES = frozenset({"attachment", "image"})

register(
    {
        "attachment.not_yours": {
            "zh": "文件 {id} 不是您上传的未使用文件,或已属于其他工单。请重新上传后使用新的文件引用。",
            "en": "File {id} is not an unused upload of yours, or it belongs to another ticket. "
            "Upload it again and use the new reference.",
        },
        "attachment.changed": {
            "zh": "文件 {id} 的引用与上传时不符(大小或类型不同)。请使用上传接口返回的引用。",
            "en": "The reference of file {id} differs from the upload (size or type). "
            "Use the reference the upload returned.",
        },
    }
)


class SpecSource(Protocol):
    def spec_for(self, conn: Connection, app_id: int, version: int) -> AppSpec: ...


@dataclass(frozen=True)
class AttachmentInfo:
    file_id: str
    name: str
    mime: str
    size: int
    uploaded_by: int | None
    uploaded_at: dt.datetime
    record_id: int | None
    field: str | None

    def reference(self) -> dict[str, Any]:
        """The value an attachment/image field stores."""
        return {"id": self.file_id, "name": self.name, "size": self.size, "mime": self.mime}


# ----------------------------------------------------------------------------- upload
def record_upload(
    db: Database, storage: Storage, stream: Stream, name: str, actor: int | None, limit_bytes: int
) -> StoredFile:
    """Store an upload and its ``attachments`` row; FileRefused (nothing kept) when the storage refuses."""
    stored = storage.put(stream, name, limit_bytes)
    try:
        with db.write() as conn:
            conn.execute(
                insert(AT).values(
                    file_id=stored.id,
                    name=stored.name,
                    mime=stored.mime,
                    size=stored.size,
                    uploaded_by=actor,
                    uploaded_at=utcnow(),
                    record_id=None,
                    field=None,
                )
            )
    except BaseException:
        storage.delete(stored.id)
        raise
    return stored


def attachments_by_id(conn: Connection, ids: list[str]) -> dict[str, AttachmentInfo]:
    if not ids:
        return {}
    rows = conn.execute(select(AT).where(AT.c.file_id.in_(ids))).all()
    return {r.file_id: AttachmentInfo(**r._mapping) for r in rows}


def usable(info: AttachmentInfo | None, actor: int, record_id: int | None) -> bool:
    """Whether ``actor`` may put this file into ticket ``record_id`` (None: a ticket being made)."""
    if info is None:
        return False
    if info.record_id is None:
        return info.uploaded_by == actor
    return info.record_id == record_id


# ----------------------------------------------------------------------------- download
def downloadable(
    conn: Connection, specs: SpecSource, principal: Principal, file_id: str
) -> AttachmentInfo | None:
    """The file, if ``principal`` may download it; None otherwise (also when there is no such file)."""
    info = attachments_by_id(conn, [file_id]).get(file_id)
    if info is None:
        return None
    if info.uploaded_by == principal.user_id:
        return info
    if info.record_id is None or not can_see(conn, principal, info.record_id):
        return None
    if info.field is None:  # attached to a comment: part of the conversation, unless an internal note
        return None if _in_internal_note(conn, principal, info) else info
    rec = conn.execute(
        select(R.c.app_id, R.c.app_version, R.c.ticket_type, R.c.stage, A.c.key)
        .join(A, A.c.id == R.c.app_id)
        .where(R.c.id == info.record_id)
    ).one()
    tspec = specs.spec_for(conn, rec.app_id, rec.app_version).types.get(rec.ticket_type)
    if tspec is None:
        return None
    hidden = tspec.access(rec.stage, principal.roles_in(rec.key)).hidden()
    return None if info.field in hidden else info


def _in_internal_note(conn: Connection, principal: Principal, info: AttachmentInfo) -> bool:
    """Whether the file came with an internal note and ``principal`` is one of the ticket's customers
    (engine.timeline), who do not read those."""
    key = conn.execute(select(A.c.key).join(R, R.c.app_id == A.c.id).where(R.c.id == info.record_id)).scalar()
    if key is None or not is_requester(principal, key):
        return False
    notes = conn.execute(
        select(E.c.type, E.c.payload).where(E.c.record_id == info.record_id, E.c.type == "comment_added")
    ).all()
    return any(
        is_internal(dict(note._mapping)) and any(ref.get("id") == info.file_id for ref in _note_files(note))
        for note in notes
    )


def _note_files(note: Any) -> list[Mapping[str, Any]]:
    refs = (note.payload or {}).get("attachments")
    return [r for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []


# ----------------------------------------------------------------------------- linking, in each command
def file_fields(tspec: TypeSpec) -> Mapping[str, tuple[str, ...]]:
    """Top-level fields that hold files: file fields (→ ``()``) and sub-tables (→ their file columns)."""
    out: dict[str, tuple[str, ...]] = {}
    for f in tspec.definition.form.fields:
        if f.type in FILE_TYPES:
            out[f.key] = ()
        elif f.type == "subtable":
            inner = tuple(c.key for c in f.fields if c.type in FILE_TYPES)
            if inner:
                out[f.key] = inner
    return out


def _refs(value: Any) -> Iterator[tuple[str, Any]]:
    """(sub-path, reference) of each file reference in a file field's value."""
    items = value if isinstance(value, list) else [value] if value else []
    for i, ref in enumerate(items):
        if isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
            yield f"[{i}]", ref


def _field_refs(key: str, columns: tuple[str, ...], value: Any) -> Iterator[tuple[str, Any]]:
    if not columns:
        for sub, ref in _refs(value):
            yield f"{key}{sub}", ref
        return
    for i, row in enumerate(value if isinstance(value, list) else []):
        if isinstance(row, Mapping):
            for col in columns:
                for sub, ref in _refs(row.get(col)):
                    yield f"{key}[{i}].{col}{sub}", ref


@dataclass(frozen=True)
class _Use:
    path: str
    field: str | None
    ref: Mapping[str, Any]
    checked: bool  # typed in by the actor (not copied by the flow or a rule)


def _uses(cmd: CommandContext) -> list[_Use]:
    tspec = cmd.spec.types.get(cmd.ticket_type)
    fields = file_fields(tspec) if tspec is not None else {}
    found: list[_Use] = []
    for event in cmd.events:
        p = event.payload
        if event.type == "created" and fields:
            data = p.get("data") or {}
            checked = "parent_node" not in p  # a sub-process child copies its parent's values
            for key, columns in fields.items():
                found += [
                    _Use(path, key, ref, checked) for path, ref in _field_refs(key, columns, data.get(key))
                ]
        elif event.type == "field_changed" and p.get("field") in fields:
            key = p["field"]
            checked = p.get("by") is None
            found += [
                _Use(path, key, ref, checked) for path, ref in _field_refs(key, fields[key], p.get("new"))
            ]
        elif event.type == "comment_added" and p.get("attachments"):
            found += [_Use(f"attachments{sub}", None, ref, True) for sub, ref in _refs(p["attachments"])]
    return found


@reactor
def link_files(cmd: CommandContext) -> None:
    """Check and link the files a command put into its ticket (see the module text)."""
    uses = _uses(cmd)
    if not uses:
        return
    known = attachments_by_id(cmd.conn, list(dict.fromkeys(u.ref["id"] for u in uses)))
    problems: list[Problem] = []
    linked: dict[str | None, list[str]] = {}
    for use in uses:
        file_id = use.ref["id"]
        info = known.get(file_id)
        if use.checked and cmd.actor_id is not None:
            if not usable(info, cmd.actor_id, cmd.record_id):
                problems.append(Problem(use.path, "attachment.not_yours", {"id": file_id}))
                continue
            if info is not None and (use.ref.get("size"), use.ref.get("mime")) != (info.size, info.mime):
                problems.append(Problem(use.path, "attachment.changed", {"id": file_id}))
                continue
        if info is not None and info.record_id is None:
            linked.setdefault(use.field, []).append(file_id)
    if problems:
        raise FormError(problems=problems, count=len(problems))
    for field, ids in linked.items():
        cmd.conn.execute(
            update(AT)
            .where(AT.c.file_id.in_(ids), AT.c.record_id.is_(None))
            .values(record_id=cmd.record_id, field=field)
        )


__all__ = [
    "AttachmentInfo",
    "attachments_by_id",
    "downloadable",
    "file_fields",
    "link_files",
    "record_upload",
    "usable",
]
