"""`exhaust deploy-check`: the stack's needs from its template, the account read through AWS's APIs (botocore
Stubber), and a readable refusal before a deploy that CloudFormation would roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from exhaust_devkit import cli, deploy_check

STACK = "exhaust-dev"


def template(tmp_path: Path, reserved: dict[str, int], memory: int = 3008, vcpu: str = "32 vCPU") -> Path:
    resources: dict[str, Any] = {
        f"Fn{name}": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Description": f"exhaust {name}: does things",
                "MemorySize": memory,
                **({"ReservedConcurrentExecutions": count} if count else {}),
            },
        }
        for name, count in reserved.items()
    }
    resources["App"] = {"Type": "AWS::EMRServerless::Application", "Properties": {"MaximumCapacity": {"Cpu": vcpu}}}
    path = tmp_path / f"{STACK}.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    return path


DEFAULT_RESERVATIONS = {"builder": 100, "finalize": 5, "mark_failed": 5, "sweeper": 1, "indexer": 1, "read": 0}


class Account:
    """Stubbed clients answering as an account would; every stubbed call must be made."""

    def __init__(self) -> None:
        self.clients = {
            service: boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
            for service in ("lambda", "cloudformation", "ssm", "service-quotas")
        }
        self.stubs = {service: Stubber(client) for service, client in self.clients.items()}

    def answers(
        self,
        quota: int = 1000,
        unreserved: int = 1000,
        deployed: bool = False,
        bootstrap: int | None = 27,
        emr_vcpu: float = 16.0,
    ) -> Account:
        limits = {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}
        self.stubs["lambda"].add_response("get_account_settings", {"AccountLimit": limits}, {})
        if deployed:
            stack = {"StackName": STACK, "CreationTime": "2026-12-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE"}
            self.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
        else:
            self.stubs["cloudformation"].add_client_error(
                "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
            )
        if bootstrap is None:
            self.stubs["ssm"].add_client_error("get_parameter", "ParameterNotFound", "not found")
        else:
            parameter = {"Name": deploy_check.BOOTSTRAP_VERSION_PARAMETER, "Value": str(bootstrap), "Type": "String"}
            self.stubs["ssm"].add_response("get_parameter", {"Parameter": parameter})
        quotas = [
            {"QuotaName": "Max concurrent vCPUs per account", "Value": emr_vcpu, "ServiceCode": "emr-serverless"},
            {"QuotaName": "Max applications", "Value": 100.0, "ServiceCode": "emr-serverless"},
        ]
        self.stubs["service-quotas"].add_response(
            "list_service_quotas", {"Quotas": quotas}, {"ServiceCode": "emr-serverless"}
        )
        return self

    def check(self, path: Path, *extra: str) -> int:
        for stub in self.stubs.values():
            stub.activate()
        args = cli.build_parser().parse_args(["deploy-check", "--template", str(path), *extra])
        code = deploy_check.run(args, clients=self.clients.__getitem__, credentials=True)
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
        return code


def test_offline_it_prints_what_the_stack_needs(tmp_path, capsys):
    path = template(tmp_path, DEFAULT_RESERVATIONS)

    assert cli.main(["deploy-check", "--template", str(path), "--offline"]) == 0

    out = capsys.readouterr().out
    assert "reserves 112 concurrent executions (builder 100, finalize 5, mark_failed 5, sweeper 1, indexer 1)" in out
    assert "a Lambda concurrency quota of at least 212" in out
    assert "largest function memory: 3,008 MB" in out
    assert "up to 32 vCPU" in out
    assert "offline" in out


def test_a_new_account_at_10_is_refused_with_what_to_ask_for(tmp_path, capsys):
    path = template(tmp_path, DEFAULT_RESERVATIONS)

    assert Account().answers(quota=10, unreserved=10).check(path) == 1

    err = capsys.readouterr().err
    assert "NOT READY: the account's Lambda concurrency quota is 10, below the 212 the stack needs" in err
    assert "--quota-code L-B99A9384 --desired-value 1000" in err
    assert "builder_reserved_concurrency=0" in err


def test_reservations_of_other_functions_leave_too_little_for_a_first_deploy(tmp_path, capsys):
    path = template(tmp_path, DEFAULT_RESERVATIONS)

    assert Account().answers(quota=1000, unreserved=150).check(path) == 1

    err = capsys.readouterr().err
    assert "150 is unreserved, and the stack's 112 would leave 38, below the 100 Lambda keeps" in err


def test_an_update_counts_its_own_reservations_as_held(tmp_path, capsys):
    path = template(tmp_path, DEFAULT_RESERVATIONS)

    assert Account().answers(quota=1000, unreserved=150, deployed=True).check(path) == 0

    assert "ready to deploy" in capsys.readouterr().out


def test_an_old_bootstrap_stack_cannot_serve_the_spark_image(tmp_path, capsys):
    path = template(tmp_path, DEFAULT_RESERVATIONS)

    assert Account().answers(bootstrap=25).check(path) == 1
    assert "bootstrap stack is version 25; the Spark image needs 26 or later" in capsys.readouterr().err

    assert Account().answers(bootstrap=None).check(path) == 1
    assert "not bootstrapped for CDK" in capsys.readouterr().err


def test_more_memory_or_vcpu_than_a_new_account_has_are_warnings(tmp_path, capsys):
    path = template(tmp_path, {"indexer": 1, "builder": 100}, memory=6144, vcpu="64 vCPU")

    assert Account().answers(emr_vcpu=16).check(path) == 0

    out = capsys.readouterr().out
    assert "warning: indexer asks for 6,144 MB" in out
    assert "set indexer_memory_mb=3008" in out
    assert "EMR Serverless allows this account 16 vCPU at once, less than the 64 of spark_max_vcpu" in out


def test_no_reservation_needs_no_quota(tmp_path, capsys):
    path = template(tmp_path, {"builder": 0})

    assert Account().answers(quota=10, unreserved=10).check(path) == 0
    assert "reserves no concurrency" in capsys.readouterr().out


def test_without_a_synthesized_template_it_says_to_synthesize(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert cli.main(["deploy-check"]) == 2

    assert "no synthesized stack in cdk.out/: run `make synth` first" in capsys.readouterr().err


@pytest.mark.parametrize(("capacity", "vcpu"), [("16 vCPU", 16.0), ("400 vcpu", 400.0), ("", None)])
def test_vcpu_capacity_is_read_as_emr_serverless_writes_it(capacity, vcpu):
    assert deploy_check._vcpu(capacity) == vcpu
