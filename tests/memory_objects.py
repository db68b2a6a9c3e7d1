"""An in-memory ObjectStore for runs of the local runner without S3 (unit and infra tests)."""

from __future__ import annotations

import json
from typing import Any

from exhaust.pipeline.definition import PLANS_PREFIX


class MemoryObjects:
    """The runner's ItemReader and ResultWriter read and write here; `plan` stores a batch list as Plan would."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[str, str], bytes] = {}

    def get(self, bucket: str, key: str) -> bytes:
        return self.bodies[(bucket, key)]

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.bodies[(bucket, key)] = body

    def plan(self, bucket: str, batches: Any) -> dict[str, Any]:
        """Store `batches` as Plan does and answer Plan's result."""
        key = f"{PLANS_PREFIX}R/plan-{len(self.bodies)}.json"
        self.put(bucket, key, json.dumps(batches).encode())
        return {"key": key, "batches": len(batches)}

    def results(self, details: dict[str, str]) -> list[dict[str, Any]]:
        """The child executions a ResultWriter manifest lists (SUCCEEDED files, then FAILED ones)."""
        manifest = json.loads(self.get(details["Bucket"], details["Key"]))
        found: list[dict[str, Any]] = []
        for status in ("SUCCEEDED", "FAILED"):
            for listed in manifest["ResultFiles"][status]:
                found.extend(json.loads(self.get(manifest["DestinationBucket"], listed["Key"])))
        return found

    def written_results(self) -> list[dict[str, Any]]:
        """The child executions of every Map Run written here."""
        manifests = [(bucket, key) for bucket, key in self.bodies if key.endswith("/manifest.json")]
        return [child for bucket, key in manifests for child in self.results({"Bucket": bucket, "Key": key})]

    def outputs(self, details: dict[str, str]) -> list[Any]:
        """The outputs of the succeeded children, in item order."""
        return [json.loads(child["Output"]) for child in self.results(details) if child["Status"] == "SUCCEEDED"]
