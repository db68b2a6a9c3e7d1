"""`exhaust deploy-check`: before `cdk deploy`, what the synthesized stack needs of the account, and whether the
account has it (docs/deploy.md, "Account limits").

What the stack needs is read off the template `make synth` wrote (each function's reserved concurrency and memory,
the Spark application's vCPUs), so it is what CloudFormation would be asked to create. With AWS credentials it then
reads the account: Lambda's GetAccountSettings (the concurrency quota and what is still unreserved), Service Quotas
(EMR Serverless's vCPU quota), CloudFormation (whether the stack exists: an update already holds its reservations)
and the CDK bootstrap version (SSM). A shortfall is one readable line and exit status 1, instead of a
CloudFormation rollback minutes into the deploy. Without credentials (or with --offline) it prints the needs only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exhaust.aws_limits import LAMBDA_UNRESERVED_CONCURRENCY_MIN, NEW_ACCOUNT_LAMBDA_MEMORY_MB

DEFAULT_CDK_OUT = Path("cdk.out")
# The bootstrap stack's version parameter (default qualifier), and the first version whose container assets
# repository lets EMR Serverless pull the Spark image (CDK developer guide, "Bootstrap template version history").
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
EMR_SERVERLESS_BOOTSTRAP_VERSION = 26
# Service Quotas names EMR Serverless's account-wide vCPU quota so (its code differs between documents).
EMR_VCPU_QUOTA_NAME = "Max concurrent vCPUs per account"
NOT_READY_EXIT = 1
USAGE_EXIT = 2
_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vCPU\s*$", re.IGNORECASE)


class TemplateNotFound(ValueError):
    pass


@dataclass(frozen=True)
class StackNeeds:
    stack_name: str
    # Function (its logical id, or its folder name when the template says it) -> reserved concurrency.
    reserved: dict[str, int]
    largest_memory_mb: int
    largest_memory_function: str
    spark_max_vcpu: float | None

    @property
    def reserved_total(self) -> int:
        return sum(self.reserved.values())

    @property
    def concurrency_quota_needed(self) -> int:
        return self.reserved_total + LAMBDA_UNRESERVED_CONCURRENCY_MIN if self.reserved else 0


@dataclass(frozen=True)
class AccountQuotas:
    concurrency_quota: int
    unreserved_concurrency: int
    stack_exists: bool
    emr_vcpu_quota: float | None
    bootstrap_version: int | None


def find_template(path: str | None, cdk_out: Path = DEFAULT_CDK_OUT) -> Path:
    """The template to check: `path`, else the one exhaust-*.template.json `make synth` wrote into cdk.out/."""
    if path:
        found = Path(path)
        if not found.is_file():
            raise TemplateNotFound(f"no template at {found}: run `make synth` first, or pass --template")
        return found
    candidates = sorted(cdk_out.glob("exhaust-*.template.json"))
    if len(candidates) != 1:
        what = (
            "no synthesized stack"
            if not candidates
            else f"{len(candidates)} stacks ({', '.join(c.name for c in candidates)})"
        )
        raise TemplateNotFound(f"{what} in {cdk_out}/: run `make synth` first, or pass --template")
    return candidates[0]


def needs_from_template(path: Path) -> StackNeeds:
    """What the template asks of the account."""
    resources: Mapping[str, Any] = json.loads(path.read_text())["Resources"]
    functions = {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Lambda::Function"
    }
    reserved = {
        _function_name(logical_id, properties): int(properties["ReservedConcurrentExecutions"])
        for logical_id, properties in functions.items()
        if "ReservedConcurrentExecutions" in properties
    }
    memory = {_function_name(i, p): int(p.get("MemorySize", 128)) for i, p in functions.items()}
    largest = max(memory, key=lambda name: memory[name]) if memory else ""
    vcpus = [
        _vcpu(resource.get("Properties", {}).get("MaximumCapacity", {}).get("Cpu", ""))
        for resource in resources.values()
        if resource.get("Type") == "AWS::EMRServerless::Application"
    ]
    return StackNeeds(
        stack_name=path.name.removesuffix(".template.json"),
        reserved=reserved,
        largest_memory_mb=memory.get(largest, 0),
        largest_memory_function=largest,
        spark_max_vcpu=sum(v for v in vcpus if v is not None) if vcpus else None,
    )


def _function_name(logical_id: str, properties: Mapping[str, Any]) -> str:
    description = str(properties.get("Description", ""))
    # The stack's functions describe themselves as "exhaust <folder>: ..." (infra/service_function.py).
    match = re.match(r"^exhaust ([a-z_]+)(?::|$)", description)
    return match.group(1) if match else logical_id


def _vcpu(capacity: str) -> float | None:
    match = _VCPU.match(capacity)
    return float(match.group(1)) if match else None


def describe_needs(needs: StackNeeds) -> list[str]:
    lines = [f"stack {needs.stack_name}:"]
    if needs.reserved:
        each = ", ".join(f"{name} {count}" for name, count in needs.reserved.items())
        lines.append(
            f"  reserves {needs.reserved_total} concurrent executions ({each}) and Lambda keeps "
            f"{LAMBDA_UNRESERVED_CONCURRENCY_MIN} unreserved: it needs a Lambda concurrency quota of at least "
            f"{needs.concurrency_quota_needed}"
        )
    else:
        lines.append("  reserves no concurrency (builder_reserved_concurrency=0): any concurrency quota deploys it")
    lines.append(
        f"  largest function memory: {needs.largest_memory_mb:,} MB ({needs.largest_memory_function}); new accounts "
        f"allow {NEW_ACCOUNT_LAMBDA_MEMORY_MB:,} MB"
    )
    if needs.spark_max_vcpu is not None:
        lines.append(f"  the lake index's Spark application may use up to {needs.spark_max_vcpu:g} vCPU")
    return lines


def problems(needs: StackNeeds, account: AccountQuotas) -> tuple[list[str], list[str]]:
    """(what stops the deploy, what only limits the stack after it) for this account."""
    errors: list[str] = []
    warnings: list[str] = []
    if needs.reserved and account.concurrency_quota < needs.concurrency_quota_needed:
        errors.append(
            f"the account's Lambda concurrency quota is {account.concurrency_quota:,}, below the "
            f"{needs.concurrency_quota_needed:,} the stack needs: ask for 1,000 (aws service-quotas "
            "request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 1000) or "
            "deploy with -c builder_reserved_concurrency=0 until it is raised"
        )
    elif needs.reserved and not account.stack_exists:
        left = account.unreserved_concurrency - needs.reserved_total
        if left < LAMBDA_UNRESERVED_CONCURRENCY_MIN:
            errors.append(
                f"other functions of the account already reserve concurrency: {account.unreserved_concurrency:,} is "
                f"unreserved, and the stack's {needs.reserved_total:,} would leave {left:,}, below the "
                f"{LAMBDA_UNRESERVED_CONCURRENCY_MIN} Lambda keeps: raise the quota or lower "
                "builder_reserved_concurrency"
            )
    if needs.largest_memory_mb > NEW_ACCOUNT_LAMBDA_MEMORY_MB:
        warnings.append(
            f"{needs.largest_memory_function} asks for {needs.largest_memory_mb:,} MB: an account still at the new "
            f"accounts' {NEW_ACCOUNT_LAMBDA_MEMORY_MB:,} MB refuses it "
            f"(set indexer_memory_mb={NEW_ACCOUNT_LAMBDA_MEMORY_MB})"
        )
    if account.bootstrap_version is None or account.bootstrap_version == 0:
        errors.append("the account and region are not bootstrapped for CDK: run `npx cdk bootstrap` first")
    elif account.bootstrap_version < EMR_SERVERLESS_BOOTSTRAP_VERSION:
        errors.append(
            f"the CDK bootstrap stack is version {account.bootstrap_version}; the Spark image needs "
            f"{EMR_SERVERLESS_BOOTSTRAP_VERSION} or later (its repository lets EMR Serverless pull images): run "
            "`npx cdk bootstrap` again"
        )
    vcpu_quota, vcpu_needed = account.emr_vcpu_quota, needs.spark_max_vcpu
    if vcpu_quota is not None and vcpu_needed is not None and vcpu_quota < vcpu_needed:
        warnings.append(
            f"EMR Serverless allows this account {vcpu_quota:g} vCPU at once, less than the {vcpu_needed:g} of "
            "spark_max_vcpu: large indexes will run with fewer workers (ask for more in Service Quotas, EMR "
            "Serverless)"
        )
    return errors, warnings


Clients = Callable[[str], Any]


def read_account(client: Clients, stack_name: str) -> AccountQuotas:
    """The account's quotas and state, through `client(service)` (boto3 clients, stubbed in tests)."""
    from botocore.exceptions import ClientError

    limits = client("lambda").get_account_settings()["AccountLimit"]
    try:
        client("cloudformation").describe_stacks(StackName=stack_name)
        stack_exists = True
    except ClientError as failure:
        if "does not exist" not in str(failure):
            raise
        stack_exists = False
    try:
        version: int | None = int(client("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"])
    except ClientError as failure:
        if failure.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        version = 0
    return AccountQuotas(
        concurrency_quota=int(limits["ConcurrentExecutions"]),
        unreserved_concurrency=int(limits["UnreservedConcurrentExecutions"]),
        stack_exists=stack_exists,
        emr_vcpu_quota=_emr_vcpu_quota(client("service-quotas")),
        bootstrap_version=version,
    )


def _emr_vcpu_quota(quotas: Any) -> float | None:
    from botocore.exceptions import ClientError

    try:
        for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="emr-serverless"):
            for quota in page["Quotas"]:
                if quota.get("QuotaName") == EMR_VCPU_QUOTA_NAME:
                    return float(quota["Value"])
    except ClientError:
        return None  # not readable with these credentials: the check goes on without it
    return None


def has_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def boto3_clients() -> Clients:
    import boto3

    session = boto3.Session()
    return lambda service: session.client(service)  # type: ignore[call-overload]


def run(args: argparse.Namespace, clients: Clients | None = None, credentials: bool | None = None) -> int:
    try:
        template = find_template(args.template)
    except TemplateNotFound as missing:
        print(f"exhaust deploy-check: {missing}", file=sys.stderr)
        return USAGE_EXIT
    needs = needs_from_template(template)
    print("\n".join(describe_needs(needs)))
    online = not args.offline and (has_credentials() if credentials is None else credentials)
    if not online:
        print("offline: the account was not read (no AWS credentials, or --offline); the needs above are the stack's")
        return 0
    account = read_account(clients or boto3_clients(), needs.stack_name)
    print(
        f"account: Lambda concurrency quota {account.concurrency_quota:,} ({account.unreserved_concurrency:,} "
        f"unreserved), stack {'deployed' if account.stack_exists else 'not deployed yet'}, CDK bootstrap version "
        f"{account.bootstrap_version}"
        + (f", EMR Serverless {account.emr_vcpu_quota:g} vCPU" if account.emr_vcpu_quota is not None else "")
    )
    errors, warnings = problems(needs, account)
    for warning in warnings:
        print(f"warning: {warning}")
    for error in errors:
        print(f"NOT READY: {error}", file=sys.stderr)
    if errors:
        return NOT_READY_EXIT
    print("ready to deploy")
    return 0


def register(commands: Any) -> None:
    check = commands.add_parser(
        "deploy-check",
        help="before cdk deploy: what the stack needs of the account's quotas, and whether the account has it",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    check.add_argument(
        "--template", help="the synthesized template (default: the one exhaust-*.template.json in cdk.out/)"
    )
    check.add_argument("--offline", action="store_true", help="print what the stack needs without reading the account")
    check.set_defaults(run=run)
