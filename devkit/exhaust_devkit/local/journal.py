"""Local mode's journal: every change to the tables and buckets, on disk before moto answers the call that made it.

A full save (exhaust_devkit.local.state) takes time in proportion to the state; a stop or a crash may come at any
moment. So each write moto serves in this process to local mode's tables (PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems) and buckets (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject,
DeleteObjects) is appended to the journal, with fsync, before moto's answer leaves: the service answers a client only
after its writes are answered, so whatever a client saw acknowledged is on disk, whatever stops the process (SIGTERM
or kill -9). A record holds what the write left (the whole item, or the object's bytes in a file of their own, or its
absence), so replaying records in order over an older save gives the latest state, and replaying one twice changes
nothing.

Segments: records go to `journal/<n>.log`; a full save first moves the journal on to a new segment, then reads the
state (which therefore holds everything the earlier segments hold) and, once complete, deletes the earlier
segments and their object files. A start loads the last full save and replays every segment left, in order.

A record is one line, `<crc32 of the JSON, 8 hex digits> <JSON>`: a line cut by a crash (the last one, torn) or
otherwise damaged fails its check and is skipped with a warning; the others replay.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from exhaust.observability import logger

from exhaust_devkit.local.atomic import DYNAMODB_LOCK

JOURNAL_FOLDER = "journal"
OBJECTS_FOLDER = "objects"
SEGMENT_SUFFIX = ".log"
# The DynamoDB calls that change items, and where each names its items.
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
OBJECT_WRITE_METHODS = ("PUT", "POST", "DELETE")

_active: Journal | None = None


def item_key(item: dict[str, Any], key_attributes: tuple[str, ...]) -> str:
    """One item's identity in its table: its key attributes (DynamoDB JSON), as one string."""
    return json.dumps([item[attribute] for attribute in key_attributes], sort_keys=True)


@dataclass
class Journal:
    """The journal of one state directory. It records only while this process's moto serves local mode (`start`)."""

    root: Path
    # Physical name -> the state's name, of what is journaled.
    tables: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    _append_lock: threading.Lock = field(default_factory=threading.Lock)
    # Reading an object's state and appending it are one step: two writes of one key are recorded in their order
    # (and a rotation never comes between an object's file and its record).
    _objects_lock: threading.Lock = field(default_factory=threading.Lock)
    _segment: int = 0
    _file: Any = None
    _records: int = 0
    _object_files: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def folder(self) -> Path:
        return self.root / JOURNAL_FOLDER

    def segments(self) -> list[Path]:
        """The segments on disk, oldest first."""
        if not self.folder.is_dir():
            return []
        found = [path for path in self.folder.iterdir() if path.suffix == SEGMENT_SUFFIX and path.stem.isdigit()]
        return sorted(found, key=lambda path: int(path.stem))

    @property
    def records_since_rotation(self) -> int:
        return self._records

    def start(self, tables: dict[str, str], buckets: dict[str, str]) -> None:
        """Record from now on every write to these tables and buckets (physical name -> the state's name)."""
        global _active
        self.tables, self.buckets = dict(tables), dict(buckets)
        install_hooks()
        with self._append_lock:
            self._open_next_segment()
        _active = self

    def stop(self) -> None:
        """Record no more (what was recorded stays on disk)."""
        global _active
        if _active is self:
            _active = None

    def rotate(self) -> list[Path]:
        """Move on to a new segment; answer the earlier ones, which a full save read after this makes useless."""
        # An object's record and its file name the same segment: no rotation between the two.
        with self._objects_lock, self._append_lock:
            earlier = self.segments()
            if self._file is not None:
                self._open_next_segment()
            return earlier

    def discard(self, segments: list[Path]) -> None:
        """Delete segments a complete full save holds, and their objects' files."""
        for segment in segments:
            segment.unlink(missing_ok=True)
            objects = self.folder / OBJECTS_FOLDER
            if objects.is_dir():
                for body in objects.glob(f"{segment.stem}-*"):
                    body.unlink(missing_ok=True)

    def _open_next_segment(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / OBJECTS_FOLDER).mkdir(exist_ok=True)
        existing = self.segments()
        self._segment = max([self._segment, *(int(path.stem) for path in existing)]) + 1
        if self._file is not None:
            self._file.close()
        self._file = (self.folder / f"{self._segment}{SEGMENT_SUFFIX}").open("ab")
        os.fchmod(self._file.fileno(), 0o600)
        self._records = 0
        sync_folder(self.folder)

    def _append(self, record: dict[str, Any]) -> None:
        text = json.dumps(record, separators=(",", ":"))
        line = f"{zlib.crc32(text.encode()):08x} {text}\n".encode()
        with self._append_lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._records += 1

    # -- what the hooks record ---------------------------------------------------------------------------
    def record_items(self, backend: Any, named: list[tuple[str, dict[str, Any]]]) -> None:
        """After a DynamoDB write (under the lock that serializes them): each named item as the write left it."""
        for table_name, attributes in named:
            logical = self.tables.get(table_name)
            table = backend.tables.get(table_name)
            if logical is None or table is None:
                continue
            key_attributes = tuple(a for a in (table.hash_key_attr, table.range_key_attr) if a is not None)
            if any(attribute not in attributes for attribute in key_attributes):
                continue
            key = {attribute: attributes[attribute] for attribute in key_attributes}
            self._append({"table": logical, "key": key, "item": _moto_item(table, key)})

    def record_object(self, backend: Any, bucket_name: str, key: str) -> None:
        """After an object write: the object as it is now (its bytes in a file of the segment), or its absence."""
        logical = self.buckets.get(bucket_name)
        if logical is None:
            return
        with self._objects_lock:
            bucket = backend.buckets.get(bucket_name)
            stored = bucket.keys.get(key) if bucket is not None else None
            if stored is None or not hasattr(stored, "value"):  # absent, or a delete marker
                self._append({"bucket": logical, "key": key, "file": None})
                return
            name = f"{self._segment}-{next(self._object_files)}"
            body = self.folder / OBJECTS_FOLDER / name
            with body.open("wb") as sink:
                os.fchmod(sink.fileno(), 0o600)
                sink.write(stored.value)
                sink.flush()
                os.fsync(sink.fileno())
            content_type = stored.metadata.get("Content-Type", "binary/octet-stream")
            self._append({"bucket": logical, "key": key, "file": name, "contentType": content_type})


def _moto_item(table: Any, key: dict[str, Any]) -> dict[str, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_value, range_value)
    return None if item is None else item.to_json()["Attributes"]


def sync_folder(folder: Path) -> None:
    """The names just written in a folder are durable once it is synced (a new segment; a save's files)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- reading back ------------------------------------------------------------------------------------------
@dataclass
class Replay:
    """What the journal's segments say, in order: the last state of each item and object they name."""

    # table -> item key -> the item, or None (deleted)
    items: dict[str, dict[str, dict[str, Any] | None]] = field(default_factory=dict)
    # bucket -> object key -> (file, content type), or None (deleted)
    objects: dict[str, dict[str, tuple[Path, str] | None]] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)


def replay(root: Path, key_attributes: dict[str, tuple[str, ...]]) -> Replay:
    """Read every segment left in the state directory (table name -> its key attributes)."""
    journal = Journal(root)
    found = Replay()
    for segment in journal.segments():
        with segment.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                record = _parse(line)
                if record is None:
                    found.damaged.append(f"{segment.name}:{number}")
                    continue
                if "table" in record:
                    attributes = key_attributes.get(record["table"])
                    if attributes is None:
                        continue
                    table = found.items.setdefault(record["table"], {})
                    table[item_key(record["key"], attributes)] = record["item"]
                else:
                    body = None
                    if record["file"] is not None:
                        body = (journal.folder / OBJECTS_FOLDER / record["file"], record["contentType"])
                    found.objects.setdefault(record["bucket"], {})[record["key"]] = body
    if found.damaged:
        logger.warning(
            "journal records damaged (a write cut by a crash); skipped, the others replayed",
            extra={"records": found.damaged[:20], "count": len(found.damaged)},
        )
    return found


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n"):
        return None  # the last record, cut mid-write
    checksum, _, text = line.rstrip(b"\n").partition(b" ")
    try:
        if int(checksum, 16) != zlib.crc32(text):
            return None
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# -- the hooks into this process's moto ---------------------------------------------------------------------
def _items_named(action: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key attributes or item) of each item a DynamoDB write names."""
    if action in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"], params.get("Item") or params.get("Key") or {})]
    if action == "BatchWriteItem":
        named = []
        for table_name, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                named.append((table_name, (put or {}).get("Item") or (delete or {}).get("Key") or {}))
        return named
    named = []
    for entry in params.get("TransactItems") or []:
        for kind in ("Put", "Update", "Delete"):
            if kind in entry:
                operation = entry[kind]
                named.append((operation["TableName"], operation.get("Item") or operation.get("Key") or {}))
    return named


def _object_write(method: str, query: dict[str, Any]) -> bool:
    """Whether an object-level call may have changed the object (not a part upload, not starting or aborting one)."""
    if method not in OBJECT_WRITE_METHODS or "uploads" in query:
        return False
    return "uploadId" not in query or method == "POST"


def install_hooks() -> None:
    """Wrap moto's DynamoDB and S3 request handlers of this process so that the active journal sees each write
    before its answer is sent. Idempotent; without an active journal they only pass calls through."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    if getattr(DynamoHandler.call_action, "journaled", False):
        return
    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def journaled_call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            answer = call_action(self)
            journal = _active
            action = self._get_action()
            if journal is not None and action in DYNAMODB_WRITES and answer[0] == 200:
                journal.record_items(self.dynamodb_backend, _items_named(action, self.body))
            return answer

    journaled_call_action.journaled = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = journaled_call_action  # type: ignore[method-assign]

    key_response = S3Response.key_response

    @functools.wraps(key_response)
    def journaled_key_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        answer = key_response(self, request, full_url, headers)
        journal = _active
        if journal is not None and 200 <= answer[0] < 300:
            query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
            if _object_write(request.method, query):
                bucket = self.parse_bucket_name_from_url(request, full_url)
                journal.record_object(self.backend, bucket, self.parse_key_name())
        return answer

    S3Response.key_response = journaled_key_response  # type: ignore[method-assign]

    bucket_response = S3Response.bucket_response

    @functools.wraps(bucket_response)
    def journaled_bucket_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        answer = bucket_response(self, request, full_url, headers)
        journal = _active
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        if journal is not None and request.method == "POST" and "delete" in query and 200 <= answer[0] < 300:
            import xmltodict

            objects = xmltodict.parse(self.body, strip_whitespace=False)["Delete"].get("Object", [])
            bucket = self.parse_bucket_name_from_url(request, full_url)
            for listed in objects if isinstance(objects, list) else [objects]:
                journal.record_object(self.backend, bucket, listed["Key"])
        return answer

    S3Response.bucket_response = journaled_bucket_response  # type: ignore[method-assign]
