"""Deployment settings, from CDK context (`-c key=value`, cdk.json) or EXHAUST_* environment variables."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field


class StackSettings(BaseModel):
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    # An existing lake bucket to read; a new one is created when empty.
    lake_bucket_name: str = ""
    output_retention_days: int = Field(default=30, ge=1, le=3650)
    link_expiry_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    max_open_requests_per_channel: int = Field(default=100, ge=1)
    max_running_per_channel: int = Field(default=5, ge=1)
    map_max_concurrency: int = Field(default=10, ge=1, le=1000)
    alarm_email: str = ""

    @classmethod
    def from_sources(cls, context: dict[str, Any], environ: dict[str, str] | None = None) -> StackSettings:
        """Context wins over the environment; both use the field names (environment: EXHAUST_<NAME>)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            variable = f"EXHAUST_{name.upper()}"
            if context.get(name) is not None:
                values[name] = context[name]
            elif variable in env:
                values[name] = env[variable]
        return cls.model_validate(values)

    @property
    def stack_name(self) -> str:
        return f"exhaust-{self.stage}"
