"""The Step Functions adapter of the Workflow port (exhaust.ports), and how executions are named.

Executions are named `{requestId}-{submittedAt}-{attempt}` (`-{deferrals}` appended once the request was deferred
after an infrastructure failure): a redelivered message for the same attempt asks for
the same name, which Step Functions refuses (or answers with the running execution), so it cannot start a second
run. `submittedAt` changes when a FAILED request is re-submitted, so the fresh request does not collide with the
names of its earlier run (Step Functions keeps names of STANDARD executions for 90 days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from exhaust import aws
from exhaust.ports import ExecutionAlreadyExists
from exhaust.requests.models import ExhaustRequest
from exhaust.settings import get_settings

RUNNING = "RUNNING"


def execution_name(request: ExhaustRequest) -> str:
    """One name per attempt, and per deferral within it (a deferred request runs again as a new execution)."""
    name = f"{request.requestId}-{request.submittedAt}-{request.attempts}"
    return f"{name}-{request.deferrals}" if request.deferrals else name


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of this state machine (known before it starts)."""
    prefix, machine = state_machine_arn.split(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def workflow_input(request: ExhaustRequest) -> dict[str, Any]:
    return {"requestId": request.requestId, "attempt": request.attempts}


@dataclass
class StepFunctionsWorkflow:
    state_machine_arn: str = field(default_factory=lambda: get_settings().state_machine_arn)

    def execution_arn(self, name: str) -> str:
        return execution_arn_for(self.state_machine_arn, name)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        try:
            answer = aws.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
            )
        except aws.client_error() as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ExecutionAlreadyExists(name) from None
            raise
        return str(answer["executionArn"])

    def describe(self, execution_arn: str) -> str | None:
        try:
            return str(aws.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])
        except aws.client_error() as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            aws.client("stepfunctions").stop_execution(executionArn=execution_arn, cause=cause[:256])
        except aws.client_error() as error:
            if error.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
