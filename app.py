#!/usr/bin/env python3
"""CDK app: read the settings, build the stack, run the cdk-nag AwsSolutions checks, synthesize.

`python app.py` (make synth) works offline. Synthesis fails on any cdk-nag finding that is not acknowledged
(acknowledgements live next to the construct they concern, each with its reason: infra/nag.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import StackSettings
from infra.stack import ExhaustStack

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def default_context() -> dict[str, object]:
    """cdk.json's context (settings defaults, feature flags), so `python app.py` synthesizes as `cdk` does.

    Passed to the App as defaults: the CDK CLI's own context (cdk.json, cdk.context.json, -c) still wins.
    """
    context: dict[str, object] = json.loads(CDK_JSON.read_text()).get("context", {})
    return context


def build_app(
    context: dict[str, object] | None = None, outdir: str | None = None, *, checks: bool = True
) -> tuple[cdk.App, ExhaustStack]:
    """The app and its stack; `checks=False` leaves cdk-nag out (assertion tests that only read the template)."""
    # The CDK CLI sets CDK_OUTDIR; `python app.py` alone writes to cdk.out/ as the CLI would.
    app = cdk.App(
        context={**default_context(), **(context or {})},
        outdir=outdir or os.environ.get("CDK_OUTDIR", "cdk.out"),
    )
    names = ("stage", *StackSettings.model_fields)
    settings = StackSettings.from_sources({name: app.node.try_get_context(name) for name in names})
    stack = ExhaustStack(app, settings.stack_name, settings=settings, description="Data exhaust service")
    if checks:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    application, _ = build_app()
    application.synth()
