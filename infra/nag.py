"""cdk-nag acknowledgements: one helper, so every acknowledgement is narrow (one finding, one construct) and
carries its reason.

cdk-nag v3 reports through CDK's `Validations`: a finding is acknowledged on the construct it is reported on
(or a parent) by its full id, `AwsSolutions::<rule>[<finding>]`. `iam5_resource` renders an ARN token the way
cdk-nag prints it, so a grant can acknowledge exactly the prefix wildcard it creates and nothing else.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str, finding: str | None = None) -> None:
    """Acknowledge one AwsSolutions finding (`rule`, e.g. `AwsSolutions-L1`, optionally `[finding]`) on scope."""
    if len(reason) < 20:
        raise ValueError(f"{rule}: an acknowledgement needs a written reason")
    rule_id = f"{rule}[{finding}]" if finding else rule
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule_id}", reason=reason))


def _render(value: Any) -> str:
    """An intrinsic as cdk-nag prints it: Ref -> <Id>, GetAtt -> <Id.Attr>, Join -> concatenation."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as cdk-nag does")


def iam5_resource(scope: IConstruct, arn: str) -> str:
    """The finding text of AwsSolutions-IAM5 for a wildcard resource ARN: `Resource::<...>/prefix/*`."""
    return "Resource::" + _render(Stack.of(scope).resolve(arn))
