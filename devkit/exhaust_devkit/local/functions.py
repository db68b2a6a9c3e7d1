"""Load the deployed Lambdas' handler modules from functions/ and call them as Lambda would."""

from __future__ import annotations

import importlib.util
import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import exhaust


def functions_dir() -> Path:
    """functions/ of the checkout this package is installed from (local mode runs from a checkout)."""
    configured = os.environ.get("EXHAUST_FUNCTIONS_DIR")
    return Path(configured) if configured else Path(exhaust.__file__).resolve().parents[2] / "functions"


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@cache
def load_handler(function: str) -> Any:
    path = functions_dir() / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"exhaust_functions.{function.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def invoke(function: str, event: dict[str, Any]) -> Any:
    return load_handler(function)(event, LocalLambdaContext(function_name=f"exhaust-local-{function}"))
