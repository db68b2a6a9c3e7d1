"""Local mode's state on disk, so that a restart keeps requests, files, tokens, license keys and the lake.

moto keeps everything in memory and has no persistence of its own, so local mode saves what the service stores
through the AWS APIs (the same calls a backup tool would make) and loads it into the new moto server at the
next start: every table's items (DynamoDB JSON), every object of every bucket (a file each, saved again only
when its ETag changed), and the secrets key's id and material, without which the encryption keys of the requests
still in flight could not be decrypted. The queue is not saved: the start sweeps (exhaust.pipeline.sweeper)
re-queue every request that was waiting or building. Layout (docs/decisions.md):

    state.json                    format, when saved, the credentials file's tokens, license key and samples
    secrets-key.json              the KMS key's id and material (0600, as the credentials file)
    tables/<table>.json           a list of items
    buckets/<bucket>/index.json   key -> ETag, content type, file
    buckets/<bucket>/objects/<sha256 of the key>
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

from exhaust_devkit.local.atomic import snapshot_tables

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
        """Put the saved items and objects into the (new, empty) tables and buckets of this run."""
        dynamodb = aws.client("dynamodb")
        for spec in resources.TABLES:
            path = self.root / "tables" / f"{spec.name}.json"
            items = self._read_json(path) if path.exists() else []
            for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_MAX_ITEMS]]
                pending: dict[str, Any] = {self.names.table(spec): batch}
                while pending:
                    pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        s3 = aws.client("s3")
        for bucket in resources.BUCKETS:
            folder = self.root / "buckets" / bucket.name
            index = self._read_json(folder / "index.json") if (folder / "index.json").exists() else {}
            missing: list[str] = []
            for key, entry in index.items():
                path = folder / "objects" / entry["file"]
                try:
                    with path.open("rb") as body:
                        answer = s3.put_object(
                            Bucket=self.names.bucket(bucket), Key=key, Body=body, ContentType=entry["contentType"]
                        )
                except FileNotFoundError:
                    # A save cut between its file deletions and its index write leaves this: the object is lost,
                    # the rest of the state is intact. Said, and the start goes on.
                    missing.append(key)
                    logger.warning("kept object missing; not restored", extra={"key": key, "path": str(path)})
                    continue
                entry["etag"] = answer["ETag"]  # a multipart upload's ETag becomes a single part's
            for key in missing:
                del index[key]
            _write_json(folder / "index.json", index)
            self.missing_objects += [f"{bucket.name}/{key}" for key in missing]

    # -- writing ----------------------------------------------------------------------------------------
    def save(self, credentials: dict[str, Any], secrets_key_id: str, *, tables_first: bool = False) -> None:
        """Save so that a save cut short (a stop that could not wait) still leaves a consistent state.

        The tables are read first and the buckets after, so every file the tables name is among the objects read;
        the objects are written first and the tables after, so the tables on disk never name a file not there.
        `tables_first` (the stop's save, which has a deadline): the tables, where every acknowledged request is,
        are written before the objects; a stop cut during the objects then loses at most files written since the
        last save, which the next start reports (load) instead of the requests themselves.
        """
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            key_file = self.root / "secrets-key.json"
            if not key_file.exists():
                material = base64.b64encode(_secrets_key_material(secrets_key_id)).decode()
                _write_json(key_file, {"keyId": secrets_key_id, "material": material}, private=True)
            tables = self._read_tables()
            kept = {name: value for name, value in credentials.items() if name not in PER_RUN_CREDENTIALS}
            manifest = {"format": STATE_FORMAT, "savedAt": int(time.time()), "credentials": kept}
            if not tables_first:
                self._save_buckets()
            for name, items in tables.items():
                _write_json(self.root / "tables" / f"{name}.json", items, private=True)
            _write_json(self.manifest, manifest, private=True)
            if tables_first:
                self._save_buckets()

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
                os.replace(temporary, folder / "objects" / name)
                content_type = answer.get("ContentType", "binary/octet-stream")
                index[key] = {"etag": etag, "contentType": content_type, "file": name}
            for key in set(saved) - set(index):
                (folder / "objects" / saved[key]["file"]).unlink(missing_ok=True)
            _write_json(folder / "index.json", index)


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
    temporary.write_text(json.dumps(value))
    if private:
        temporary.chmod(0o600)
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
