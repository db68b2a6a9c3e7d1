"""One synthesis of the real app, with its cdk-nag checks, shared by every infra test (it costs seconds).

The template is read from the cloud assembly, so a cdk-nag finding fails only test_checks (which reports it)
while the other tests still inspect the template; all infra tests run in one xdist group, hence one synth.
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


# Before xdist's own hook names the groups (loadgroup): a marker added later leaves the tests spread over workers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/infra/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.xdist_group("infra"))


@dataclass
class Synthesis:
    outdir: Path
    stack_name: str
    error: str | None  # the validation failure cdk-nag or CloudFormation Validate raised, if any

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack_name}.template.json"

    def template_json(self) -> dict[str, Any]:
        return json.loads(self.template_path.read_text())

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def built_console() -> None:
    """The stack deploys the built console (infra/console.py): build it when a test run starts without it."""
    from infra.console import CONSOLE_BUILD, ConsoleNotBuilt, console_assets

    try:
        console_assets(CONSOLE_BUILD)
    except ConsoleNotBuilt:
        subprocess.run(["make", "console"], cwd=CONSOLE_BUILD.parents[1], check=True, capture_output=True)


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory) -> Synthesis:
    from app import build_app

    built_console()
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(outdir=str(outdir), checks=True)
    try:
        app.synth()
        error = None
    except RuntimeError as failure:  # the templates are written before validation runs
        error = str(failure)
    return Synthesis(outdir=outdir, stack_name=stack.stack_name, error=error)


@pytest.fixture(scope="session")
def template(synthesis):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesis.template_json())


@pytest.fixture(scope="session")
def resources(synthesis) -> dict[str, dict[str, Any]]:
    """The raw Resources section, for walks the assertions API does not offer."""
    return synthesis.template_json()["Resources"]
