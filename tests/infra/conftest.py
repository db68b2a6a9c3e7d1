import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The synthesized stack (one synth per module: it costs seconds)."""
    from aws_cdk.assertions import Template

    from app import build_app

    _, stack = build_app(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return Template.from_stack(stack)
