"""Local mode's state on disk, so that a restart keeps requests, files, tokens, license keys and the lake.

moto keeps everything in memory and has no persistence of its own, so local mode saves what the service stores
through the AWS APIs (the same calls a backup tool would make) and loads it into the new moto server at the
next start: every table's items (DynamoDB JSON), every object of every bucket (a file each, saved again only
when its ETag changed), and the secrets key's id and material, without which the encryption keys of the requests
still in flight could not be decrypted. The queue is not saved: the start sweeps (exhaust.pipeline.sweeper)
re-queue every request that was waiting or building. Between full saves, every write is in the journal
(exhaust_devkit.local.journal), on disk before it is acknowledged; a start replays it over the last full save, and each
full save makes the journal it holds useless (deleted). Layout (docs/decisions.md):

    state.json                    format, when saved, the credentials file's tokens, license key and samples
    secrets-key.json              the KMS key's id and material (0600, as the credentials file)
    tables/<table>.json           a list of items
    buckets/<bucket>/index.json   key -> ETag, content type, file
    buckets/<bucket>/objects/<sha256 of the key>
    journal/<n>.log               the writes since the full save began, one record a line
    journal/objects/<n>-<m>       the bytes of an object a record names
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from exhaust import aws, resources
from exhaust.observability import logger
from exhaust.resources import LocalNames

from exhaust_devkit.local.atomic import restore_items, snapshot_tables
from exhaust_devkit.local.journal import Journal, Replay, item_key, replay, sync_folder

STATE_FORMAT = 1
# DynamoDB BatchWriteItem takes at most 25 put requests per call
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
BATCH_WRITE_MAX_ITEMS = 25
# The credentials file's entries that belong to one run, not to the state.
PER_RUN_CREDENTIALS = ("baseUrl", "awsEndpoint")


class LocalSetupError(Exception):
    """Local mode cannot start as asked (unreadable state, an invalid setting); the message says what to do."""


@dataclass(frozen=True)
class SecretsKey:
    key_id: str
    material: bytes


@dataclass
class LocalState:
    root: Path
    names: LocalNames = field(default_factory=LocalNames)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _claim: IO[str] | None = None
    # What load() found named in an index but missing on disk (bucket/key): reported at start.
    missing_objects: list[str] = field(default_factory=list)
    # What load() found damaged in the journal (segment:line): reported at start.
    damaged_records: list[str] = field(default_factory=list)
    _journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.root)
        return self._journal

    def journal_names(self) -> tuple[dict[str, str], dict[str, str]]:
        """The tables and buckets of this run the journal records (physical name -> the state's name)."""
        tables = {self.names.table(spec): spec.name for spec in resources.TABLES}
        return tables, {self.names.bucket(spec): spec.name for spec in resources.BUCKETS}

    @property
    def manifest(self) -> Path:
        return self.root / "state.json"

    def exists(self) -> bool:
        return self.manifest.exists()

    def claim(self) -> None:
        """Hold the directory for this process (released when it ends): two runs saving into one state would
        overwrite each other's requests."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._claim = (self.root / ".lock").open("a")
        try:
            fcntl.flock(self._claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalSetupError(
                f"another local mode is running with its state in {self.root}: stop it, or give this one its own "
                "--state-dir"
            ) from None

    def clear(self) -> None:
        """Forget everything kept (the claim on the directory stays)."""
        for child in self.root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name != ".lock":
                child.unlink()

    # -- reading ----------------------------------------------------------------------------------------
    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as failure:
            raise LocalSetupError(
                f"the kept state in {self.root} is unreadable ({path.name}: {failure}); "
                "start with --fresh (FRESH=1 make run) to begin again"
            ) from None

    def credentials(self) -> dict[str, Any]:
        manifest = self._read_json(self.manifest)
        if not isinstance(manifest, dict) or manifest.get("format") != STATE_FORMAT:
            raise LocalSetupError(
                f"the kept state in {self.root} is of another version; start with --fresh (FRESH=1 make run)"
            )
        return dict(manifest.get("credentials") or {})

    def secrets_key(self) -> SecretsKey:
        saved = self._read_json(self.root / "secrets-key.json")
        return SecretsKey(saved["keyId"], base64.b64decode(saved["material"]))

    def load(self) -> None:
        """Put the saved items and objects, with the journal's later writes replayed over them, into the (new,
        empty) tables and buckets of this run."""
        journaled = replay(self.root, {spec.name: _key_attributes(spec) for spec in resources.TABLES})
        self.damaged_records = journaled.damaged
        dynamodb = aws.client("dynamodb")
        for spec in resources.TABLES:
            path = self.root / "tables" / f"{spec.name}.json"
            items = _replayed_items(spec, self._read_json(path) if path.exists() else [], journaled)
            try:
                restore_items(self.names.table(spec), items)
                continue
            except LookupError:
                pass  # a moto server of another process: through the API
            for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_MAX_ITEMS]]
                pending: dict[str, Any] = {self.names.table(spec): batch}
                while pending:
                    pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        s3 = aws.client("s3")
        for bucket in resources.BUCKETS:
            folder = self.root / "buckets" / bucket.name
            index = self._read_json(folder / "index.json") if (folder / "index.json").exists() else {}
            later = journaled.objects.get(bucket.name, {})
            # The journal's objects replace the saved ones of their key (the next save reads them from moto).
            replaced = [index.pop(key) for key in later if key in index]
            sources = {key: (folder / "objects" / entry["file"], entry["contentType"]) for key, entry in index.items()}
            sources.update({key: found for key, found in later.items() if found is not None})
            missing: list[str] = []
            for key, (path, content_type) in sources.items():
                try:
                    with path.open("rb") as body:
                        answer = s3.put_object(
                            Bucket=self.names.bucket(bucket), Key=key, Body=body, ContentType=content_type
                        )
                except FileNotFoundError:
                    # A save cut between its file deletions and its index write leaves this: the object is lost,
                    # the rest of the state is intact. Said, and the start goes on.
                    missing.append(key)
                    logger.warning("kept object missing; not restored", extra={"key": key, "path": str(path)})
                    continue
                if key in index:
                    index[key]["etag"] = answer["ETag"]  # a multipart upload's ETag becomes a single part's
            for key in missing:
                index.pop(key, None)
            _write_json(folder / "index.json", index)
            for entry in replaced:
                (folder / "objects" / entry["file"]).unlink(missing_ok=True)
            self.missing_objects += [f"{bucket.name}/{key}" for key in missing]

    # -- writing ----------------------------------------------------------------------------------------
    def save(self, credentials: dict[str, Any], secrets_key_id: str) -> None:
        """A full save, consistent even when cut short (a stop, a crash), after which the journal is emptied.

        The journal first moves on to a new segment, so everything its earlier segments hold is in what this save
        reads; they are deleted only once the save is complete and on disk (a save cut short leaves them, and the
        next start replays them over whatever it wrote). The tables are read before the buckets, so every file the
        tables name is among the objects read; the objects are written before the tables, so the tables on disk
        never name a file not there.
        """
        with self._lock:
            earlier = self.journal.rotate()
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            key_file = self.root / "secrets-key.json"
            if not key_file.exists():
                material = base64.b64encode(_secrets_key_material(secrets_key_id)).decode()
                _write_json(key_file, {"keyId": secrets_key_id, "material": material}, private=True)
            tables = self._read_tables()
            kept = {name: value for name, value in credentials.items() if name not in PER_RUN_CREDENTIALS}
            manifest = {"format": STATE_FORMAT, "savedAt": int(time.time()), "credentials": kept}
            self._save_buckets()
            for name, items in tables.items():
                _write_json(self.root / "tables" / f"{name}.json", items, private=True)
            _write_json(self.manifest, manifest, private=True)
            for folder in [self.root, self.root / "tables", *(self.root / "buckets").iterdir()]:
                sync_folder(folder)
            self.journal.discard(earlier)

    def _read_tables(self) -> dict[str, list[Any]]:
        """Every table's items; straight from moto's models when it runs in this process (local mode: a Scan
        through the API takes seconds for a few thousand requests, more than a stop may wait)."""
        names = {spec.name: self.names.table(spec) for spec in resources.TABLES}
        try:
            snapshot = snapshot_tables(list(names.values()))
        except LookupError:
            return self._scan_tables()
        return {name: snapshot[physical] for name, physical in names.items()}

    def _scan_tables(self) -> dict[str, list[Any]]:
        paginator = aws.client("dynamodb").get_paginator("scan")
        return {
            spec.name: [
                item
                for page in paginator.paginate(TableName=self.names.table(spec), ConsistentRead=True)
                for item in page.get("Items", [])
            ]
            for spec in resources.TABLES
        }

    def _save_buckets(self) -> None:
        s3 = aws.client("s3")
        for bucket in resources.BUCKETS:
            folder = self.root / "buckets" / bucket.name
            (folder / "objects").mkdir(parents=True, exist_ok=True)
            saved = self._read_json(folder / "index.json") if (folder / "index.json").exists() else {}
            index: dict[str, dict[str, str]] = {}
            for key, etag in _listing(s3, self.names.bucket(bucket)):
                if key in saved and saved[key]["etag"] == etag:
                    index[key] = saved[key]
                    continue
                try:
                    answer = s3.get_object(Bucket=self.names.bucket(bucket), Key=key)
                except s3.exceptions.NoSuchKey:
                    continue  # deleted since it was listed (a cancel, a delete): nothing to keep
                name = hashlib.sha256(key.encode()).hexdigest()
                temporary = folder / "objects" / f".{name}.tmp"
                with temporary.open("wb") as sink:
                    shutil.copyfileobj(answer["Body"], sink)
                    sink.flush()
                    os.fsync(sink.fileno())
                os.replace(temporary, folder / "objects" / name)
                content_type = answer.get("ContentType", "binary/octet-stream")
                index[key] = {"etag": etag, "contentType": content_type, "file": name}
            for key in set(saved) - set(index):
                (folder / "objects" / saved[key]["file"]).unlink(missing_ok=True)
            _write_json(folder / "index.json", index)
            sync_folder(folder / "objects")


def _key_attributes(spec: resources.TableSpec) -> tuple[str, ...]:
    return (spec.partition_key,) if spec.sort_key is None else (spec.partition_key, spec.sort_key)


def _replayed_items(spec: resources.TableSpec, saved: list[Any], journaled: Replay) -> list[Any]:
    """The saved items of a table with the journal's later writes (puts and deletes) applied."""
    later = journaled.items.get(spec.name)
    if not later:
        return saved
    attributes = _key_attributes(spec)
    items: dict[str, Any] = {item_key(item, attributes): item for item in saved}
    for key, item in later.items():
        if item is None:
            items.pop(key, None)
        else:
            items[key] = item
    return list(items.values())


def _listing(s3: Any, bucket: str) -> list[tuple[str, str]]:
    """(key, ETag) of every object of the bucket: from the models of this process's moto when it runs here (the
    API lists a few thousand objects in seconds, more than a stop may wait), else through the API."""
    from moto.s3.models import s3_backends

    for backend in s3_backends.values():
        found = backend["global"].buckets.get(bucket)
        if found is not None:
            return [(key, str(obj.etag)) for key, obj in found.keys.items() if hasattr(obj, "etag")]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [(listed["Key"], listed["ETag"]) for page in pages for listed in page.get("Contents", [])]


def _write_json(path: Path, value: Any, *, private: bool = False) -> None:
    """Write whole or not at all: a stop cut short leaves the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w") as sink:
        if private:
            os.fchmod(sink.fileno(), 0o600)
        sink.write(json.dumps(value))
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, path)


def _moto_kms_key(key_id: str) -> Any:
    """The key in the moto server of this process: the KMS API never answers a key's material (nor takes one for
    a symmetric AWS_KMS key), so this one reach into moto's models is what keeps in-flight requests decryptable."""
    from moto.kms.models import kms_backends

    for regions in kms_backends.values():
        for backend in regions.values():
            if key_id in backend.keys:
                return backend, backend.keys[key_id]
    raise LocalSetupError(f"the local secrets key {key_id} is not in this process's moto server")


def _secrets_key_material(key_id: str) -> bytes:
    return bytes(_moto_kms_key(key_id)[1].key_material)


def adopt_secrets_key(created_key_id: str, kept: SecretsKey) -> str:
    """Give the key just created the id and material of the kept one; answer its id."""
    backend, key = _moto_kms_key(created_key_id)
    del backend.keys[created_key_id]
    key.id = kept.key_id
    key.arn = key.arn.replace(created_key_id, kept.key_id)
    key.key_material = kept.material
    backend.keys[kept.key_id] = key
    return kept.key_id
