#!/usr/bin/env python3
"""CDK app: read the settings, build the stack, synthesize (offline: `python app.py`)."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.config import StackSettings
from infra.stack import ExhaustStack


def build_app(
    context: dict[str, object] | None = None, outdir: str | None = None
) -> tuple[cdk.App, ExhaustStack]:
    # The CDK CLI sets CDK_OUTDIR; `python app.py` alone writes to cdk.out/ as the CLI would.
    app = cdk.App(context=context, outdir=outdir or os.environ.get("CDK_OUTDIR", "cdk.out"))
    names = ("stage", *StackSettings.model_fields)
    settings = StackSettings.from_sources({name: app.node.try_get_context(name) for name in names})
    stack = ExhaustStack(app, settings.stack_name, settings=settings, description="Data exhaust service")
    return app, stack


if __name__ == "__main__":
    application, _ = build_app()
    application.synth()
