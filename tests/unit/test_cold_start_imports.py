"""What a zip function's cold start loads: no X-Ray SDK until the first traced call, no boto3 where none is needed.

Times are measured by `make bench` (docs/benchmarks.md), never here: these tests assert the module sets only.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from exhaust.resources import IMAGE_FUNCTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
ZIP_HANDLERS = sorted(
    path.parent.name
    for path in (REPO_ROOT / "functions").glob("*/handler.py")
    if path.parent.name not in IMAGE_FUNCTIONS
)
# The AWS SDK is imported at the first client or condition (exhaust.aws). Powertools imports the bare `botocore`
# package for its user agent (a few ms); botocore's exceptions, client and loaders are what cost.
AWS_SDK_MODULES = {"boto3", "s3transfer", "botocore.exceptions", "botocore.client", "botocore.session"}
# Tracing enabled, as in a deployed function (Powertools only traces inside Lambda).
LAMBDA_ENVIRONMENT = {"AWS_LAMBDA_FUNCTION_NAME": "exhaust-test", "AWS_REGION": "us-east-1", "PATH": "/usr/bin"}
LOADED_BY_HANDLER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(function: str) -> set[str]:
    handler = REPO_ROOT / "functions" / function / "handler.py"
    run = subprocess.run([sys.executable, "-c", LOADED_BY_HANDLER, str(handler)], capture_output=True, text=True,
                         env=LAMBDA_ENVIRONMENT, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout))


def test_every_zip_function_is_found():
    assert len(ZIP_HANDLERS) >= 17
    assert {"submit", "read", "list", "search", "dispatcher", "finalize", "mark_failed", "sweeper"} <= set(ZIP_HANDLERS)


@pytest.mark.parametrize("function", ZIP_HANDLERS)
def test_importing_a_zip_handler_loads_no_xray_sdk_nor_pyarrow_nor_the_aws_sdk(function):
    loaded = loaded_by(function)
    assert not {"aws_xray_sdk", "pyarrow"} & {name.split(".")[0] for name in loaded}
    assert not AWS_SDK_MODULES & loaded


PIPELINE_HANDLERS = {"dispatcher", "finalize", "mark_failed", "sweeper", "cancel", "delete", "callbacks"}
DOCUMENT_HANDLERS = {"openapi", "export_ui"}
# What a handler must not load at import, and the handlers that may (they need it to answer at all).
ALLOWED_ONLY_IN: dict[str, set[str]] = {
    # Powertools' batch utility brings asyncio and every event data class (exhaust.pipeline.sqs_batch instead).
    "asyncio": set(),
    "aws_lambda_powertools.utilities.batch": set(),
    "aws_lambda_powertools.utilities.data_classes": set(),
    # Only a submit validates a datasetConfig, at its first validation.
    "fastjsonschema": set(),
    # Only a webhook callback posts over HTTP, at its first callback.
    "urllib.request": set(),
    "http.client": set(),
    # The OpenAPI document is built for the pages that serve it; the route table, which loads every operation (and
    # so the pipeline's cancel and delete), only by the page of the whole document.
    "exhaust.api.openapi": DOCUMENT_HANDLERS,
    "exhaust.api.routes": {"openapi"},
    "exhaust.pipeline": PIPELINE_HANDLERS | {"openapi"},
    # The credential store (its pydantic model) authenticates tokens: the authorizer's work, not a route's.
    "exhaust.auth.credentials": {"authorizer", "openapi"},  # the document's page: the legacy API's declaration
}


def loads(loaded: set[str], module: str) -> bool:
    return any(name == module or name.startswith(f"{module}.") for name in loaded)


@pytest.mark.parametrize("function", ZIP_HANDLERS)
def test_a_zip_handler_loads_only_the_modules_it_answers_with(function: str) -> None:
    loaded = loaded_by(function)
    unexpected = {
        module for module, allowed in ALLOWED_ONLY_IN.items() if function not in allowed and loads(loaded, module)
    }
    assert unexpected == set()


def test_the_pins_do_see_the_modules_they_keep_out() -> None:
    assert loads(loaded_by("openapi"), "exhaust.api.routes")
    assert loads(loaded_by("dispatcher"), "exhaust.pipeline")


FIRST_TRACED_CALL = """
import json, sys
from exhaust.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return {"answer": event["question"] * 2}

before = "aws_xray_sdk" in sys.modules
answer = handler({"question": 21}, None)
print(json.dumps({"before": before, "after": "aws_xray_sdk" in sys.modules, "answer": answer,
                  "name": handler.__name__}))
"""


def test_the_first_traced_call_creates_the_tracer_and_answers_as_the_handler_does():
    environment = {**LAMBDA_ENVIRONMENT, "POWERTOOLS_TRACE_DISABLED": "true"}  # no X-Ray daemon here
    run = subprocess.run([sys.executable, "-c", FIRST_TRACED_CALL], capture_output=True, text=True,
                         env=environment, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"before": False, "after": True, "answer": {"answer": 42}, "name": "handler"}
