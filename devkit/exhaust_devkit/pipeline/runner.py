"""Runs the workflow definition in-process: local mode's worker and the tests use it instead of Step Functions.

It interprets the subset of Amazon States Language the definitions use, with the same semantics: Task (the
lambda:invoke integration, answering `{"Payload": ...}`; other integrations, such as the lake index's
emr-serverless:startJobRun.sync, bound to callables by their resource), Choice (Variable with BooleanEquals,
StringEquals, NumericGreaterThan, NumericLessThanEquals or IsPresent; Default), Map (a thread pool bounded by
MaxConcurrency; an item that fails fails the map with States.ExceedToleratedFailureThreshold, as a Distributed Map
does; its ItemReader reads a JSON array from S3, its ResultWriter writes the children's results to S3 in Step
Functions' format, below), Pass; Parameters,
ItemSelector, ResultSelector and ResultPath with `$.a.b` / `$$.Execution.Id` / `$$.Map.Item.Value` paths; Retry
(ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds; JitterStrategy FULL when the runner is
given a `jitter`, as local mode's worker does) and Catch. A function's error is known by its exception's
class name, with Cause `{"errorMessage", "errorType"}` as Lambda reports it. A function that runs past its
timeout (`timeouts`) or out of memory (MemoryError) fails its task with Lambda.Unknown, as Step Functions reports
Lambda's timeouts and out-of-memory ends (errors.FUNCTION_LIMIT_ERROR); Lambda would stop the function there, a
thread cannot be stopped, so the late call runs on and its writes meet an execution that no longer owns them.
Every state's input (after Parameters/ItemSelector) and output, and every task's result, must fit
STATE_PAYLOAD_MAX_BYTES, else the execution fails with States.DataLimitExceeded, which no catcher or retrier takes
(as in Step Functions); each map item must fit MAP_ITEM_MAX_BYTES.

ResultWriter, as the Step Functions developer guide ("ResultWriter (Map)") documents it, with the default
Transformation NONE: under `{Prefix}/{map run id}/` the files SUCCEEDED_0.json and FAILED_0.json (JSON arrays of
child executions: ExecutionArn, Name, Input and Output as JSON text, or Error and Cause, Status, StartDate, ...;
a new file whenever one would pass RESULT_WRITER_FILE_MAX_BYTES) and manifest.json (`DestinationBucket`,
`MapRunArn`, `ResultFiles: {FAILED, PENDING, SUCCEEDED: [{Key, Size}]}`); the Map state's result is then
`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from exhaust import aws
from exhaust.aws_limits import MAP_ITEM_MAX_BYTES, RESULT_WRITER_FILE_MAX_BYTES, STATE_PAYLOAD_MAX_BYTES, json_size
from exhaust.observability import logger
from exhaust.pipeline.definition import (
    BUCKET_PLACEHOLDER,
    BUILDER_FUNCTION,
    FINALIZE_FUNCTION,
    LAMBDA_INVOKE,
    MARK_FAILED_FUNCTION,
    PLAN_FUNCTION,
    S3_GET_OBJECT,
    S3_PUT_OBJECT,
)
from exhaust.pipeline.errors import FUNCTION_LIMIT_ERROR
from exhaust.pipeline.executions import RUNNING, execution_arn_for
from exhaust.pipeline.steps import Pipeline, build_batch, finalize, mark_failed, plan
from exhaust.ports import ExecutionAlreadyExists
from exhaust.settings import get_settings

LOCAL_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:exhaust-local-workflow"
Function = Callable[[dict[str, Any]], Any]


class StatesError(Exception):
    """An error as Step Functions names it: Error and Cause."""

    def __init__(self, error: str, cause: str):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class ExecutionStopped(StatesError):
    def __init__(self) -> None:
        super().__init__("States.Aborted", "the execution was stopped")


class ObjectStore(Protocol):
    """What the ItemReader and the ResultWriter need of S3."""

    def get(self, bucket: str, key: str) -> bytes: ...

    def put(self, bucket: str, key: str, body: bytes) -> None: ...


class S3Objects:
    """The ObjectStore on S3 (moto in tests and local mode), as Step Functions reads and writes it."""

    def get(self, bucket: str, key: str) -> bytes:
        return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def put(self, bucket: str, key: str, body: bytes) -> None:
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def substitute(document: Any, substitutions: Mapping[str, str]) -> Any:
    """`document` with each `${Name}` of `substitutions` replaced, as CloudFormation's DefinitionSubstitutions do."""
    if isinstance(document, Mapping):
        return {key: substitute(value, substitutions) for key, value in document.items()}
    if isinstance(document, list):
        return [substitute(value, substitutions) for value in document]
    if isinstance(document, str):
        for name, value in substitutions.items():
            document = document.replace("${" + name + "}", value)
    return document


def _instant() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_of(failure: BaseException) -> tuple[str, str]:
    if isinstance(failure, StatesError):
        return failure.error, failure.cause
    name = type(failure).__name__
    return name, json.dumps({"errorMessage": str(failure), "errorType": name})


DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"


def within_payload_limit(value: Any, what: str) -> Any:
    """`value` itself if it fits a state's payload quota; else States.DataLimitExceeded naming `what`."""
    size = json_size(value)
    if size > STATE_PAYLOAD_MAX_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED, f"{what} is {size} bytes, over the state payload quota of {STATE_PAYLOAD_MAX_BYTES}"
        )
    return value


def _matches(error_equals: list[str], error: str) -> bool:
    if error == DATA_LIMIT_EXCEEDED:  # terminal: neither States.ALL nor States.TaskFailed take it
        return error in error_equals
    if "States.ALL" in error_equals or error in error_equals:
        return True
    return "States.TaskFailed" in error_equals and error != "States.Timeout"


def read_path(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    if path.startswith("$$"):
        value: Any = context
        parts = path[2:].lstrip(".").split(".") if path != "$$" else []
    elif path.startswith("$"):
        value = data
        parts = path[1:].lstrip(".").split(".") if path != "$" else []
    else:
        raise ValueError(f"not a path: {path}")
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            raise StatesError("States.Runtime", f"the path {path} does not exist in the input")
        value = value[part]
    return copy.deepcopy(value)


def resolve(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """Parameters / ItemSelector / ResultSelector: keys ending in `.$` take the value at their path."""
    if isinstance(template, Mapping):
        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = read_path(value, data, context)
            else:
                resolved[key] = resolve(value, data, context)
        return resolved
    if isinstance(template, list):
        return [resolve(item, data, context) for item in template]
    return template


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value is expected,
    "StringEquals": lambda value, expected: isinstance(value, str) and value == expected,
    "NumericGreaterThan": lambda value, expected: _is_number(value) and value > expected,
    "NumericLessThanEquals": lambda value, expected: _is_number(value) and value <= expected,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def choose(state: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> str:
    """The Next of a Choice state: its first rule that matches, else its Default (else States.NoChoiceMatched)."""
    for rule in state["Choices"]:
        operators = [key for key in rule if key not in ("Variable", "Next")]
        if len(operators) != 1 or (operators[0] not in _COMPARISONS and operators[0] != "IsPresent"):
            raise StatesError("States.Runtime", f"the local runner does not evaluate the choice rule {rule}")
        (operator,) = operators
        try:
            value = read_path(rule["Variable"], data, context)
            present = True
        except StatesError:
            present = False
        if operator == "IsPresent":
            matched = present is rule[operator]
        elif not present:
            raise StatesError("States.Runtime", f"the choice variable {rule['Variable']} does not exist in the input")
        else:
            matched = _COMPARISONS[operator](value, rule[operator])
        if matched:
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise StatesError("States.NoChoiceMatched", "no choice rule matched and the Choice state has no Default")


def apply_result_path(data: Any, result: Any, path: str | None) -> Any:
    if path is None:
        return data
    if path == "$":
        return result
    merged = copy.deepcopy(data) if isinstance(data, dict) else {}
    target = merged
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return merged


@dataclass
class LocalRunner:
    """Executes `definition` with its function placeholders bound to callables (payload -> result)."""

    definition: dict[str, Any]
    functions: Mapping[str, Function]
    retry_interval_scale: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    # FULL jitter: interval -> the wait actually slept (e.g. a uniform draw in [0, interval]); None: no jitter.
    jitter: Callable[[float], float] | None = None
    objects: ObjectStore = field(default_factory=S3Objects)
    # The definition's non-function placeholders; by default the exhaust bucket of the settings.
    substitutions: Mapping[str, str] | None = None
    # Function placeholder -> its timeout in seconds (as deployed); a function without one runs as long as it takes.
    timeouts: Mapping[str, float] = field(default_factory=dict)
    # Task resources other than lambda:invoke -> callables taking the task's Parameters, answering its result.
    services: Mapping[str, Function] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bound = self.substitutions
        if bound is None:
            bound = {BUCKET_PLACEHOLDER: get_settings().exhaust_bucket}
        self.definition = substitute(self.definition, bound)

    def run(self, execution_arn: str, payload: dict[str, Any], should_stop: Callable[[], bool] = lambda: False) -> Any:
        name = execution_arn.rsplit(":", 1)[-1]
        context = {"Execution": {"Id": execution_arn, "Name": name, "StartTime": _instant(), "Input": payload}}
        return self._run_machine(self.definition, copy.deepcopy(payload), context, should_stop)

    def _run_machine(
        self, machine: Mapping[str, Any], data: Any, context: Mapping[str, Any], should_stop: Callable[[], bool]
    ) -> Any:
        name = machine["StartAt"]
        while True:
            if should_stop():
                raise ExecutionStopped()
            state = machine["States"][name]
            try:
                within_payload_limit(data, f"the input of state {name}")
                data = within_payload_limit(
                    self._run_state(state, data, context, should_stop), f"the output of state {name}"
                )
            except ExecutionStopped:
                raise
            except Exception as failure:
                error, cause = error_of(failure)
                catcher = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], error)), None)
                if catcher is None:
                    raise StatesError(error, cause) from failure
                data = apply_result_path(data, {"Error": error, "Cause": cause}, catcher.get("ResultPath", "$"))
                name = catcher["Next"]
                continue
            if state["Type"] == "Succeed" or state.get("End"):
                return data
            name = choose(state, data, context) if state["Type"] == "Choice" else state["Next"]

    def _run_state(
        self, state: Mapping[str, Any], data: Any, context: Mapping[str, Any], should_stop: Callable[[], bool]
    ) -> Any:
        kind = state["Type"]
        if kind in ("Succeed", "Choice"):
            return data
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind == "Pass":
            result = resolve(state["Parameters"], data, context) if "Parameters" in state else data
            return apply_result_path(data, result, state.get("ResultPath", "$"))
        if kind == "Task":
            result = self._with_retry(state, lambda: self._invoke(state, data, context))
        elif kind == "Map":
            result = self._with_retry(state, lambda: self._map(state, data, context, should_stop))
        else:
            raise StatesError("States.Runtime", f"the local runner does not run {kind} states")
        if "ResultSelector" in state:
            result = resolve(state["ResultSelector"], result, context)
        return apply_result_path(data, result, state.get("ResultPath", "$"))

    def _invoke(self, state: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> Any:
        resource = state["Resource"]
        if resource != LAMBDA_INVOKE and resource not in self.services:
            raise StatesError("States.Runtime", f"unsupported resource {resource}")
        parameters = within_payload_limit(resolve(state["Parameters"], data, context), "a task's parameters")
        if resource != LAMBDA_INVOKE:
            return within_payload_limit(json.loads(json.dumps(self.services[resource](parameters))), "a task's result")
        placeholder = str(parameters["FunctionName"]).removeprefix("${").removesuffix("}")
        answer = self._call(placeholder, parameters.get("Payload", {}))
        # As Lambda's JSON round trip would: what a function answers must be JSON.
        return within_payload_limit({"Payload": json.loads(json.dumps(answer))}, "a task's result")

    def _call(self, placeholder: str, payload: dict[str, Any]) -> Any:
        """The function's answer; Lambda.Unknown when it runs past its timeout or out of memory."""
        function = self.functions[placeholder]
        timeout = self.timeouts.get(placeholder)
        try:
            if timeout is None:
                return function(payload)
            return _within(timeout, lambda: function(payload), placeholder)
        except MemoryError as failure:
            raise StatesError(
                FUNCTION_LIMIT_ERROR, f"{placeholder} ran out of memory (MemoryError: {failure})"
            ) from failure

    def _with_retry(self, state: Mapping[str, Any], call: Callable[[], Any]) -> Any:
        retriers = state.get("Retry", [])
        retried = [0] * len(retriers)
        while True:
            try:
                return call()
            except ExecutionStopped:
                raise
            except Exception as failure:
                error, _ = error_of(failure)
                index = next((i for i, r in enumerate(retriers) if _matches(r["ErrorEquals"], error)), None)
                if index is None or retried[index] >= retriers[index].get("MaxAttempts", 3):
                    raise
                retrier = retriers[index]
                interval = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** retried[index]
                if "MaxDelaySeconds" in retrier:
                    interval = min(interval, retrier["MaxDelaySeconds"])
                if self.jitter is not None and retrier.get("JitterStrategy") == "FULL":
                    interval = self.jitter(interval)
                retried[index] += 1
                logger.info("local runner retries a state", extra={"error": error, "attempt": retried[index] + 1})
                self.sleep(interval * self.retry_interval_scale)

    def _items(self, state: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> list[Any]:
        """The map's items: the JSON array its ItemReader names in S3, else the array at ItemsPath."""
        reader = state.get("ItemReader")
        if reader is None:
            items = read_path(state.get("ItemsPath", "$"), data, context)
        else:
            if reader["Resource"] != S3_GET_OBJECT or reader.get("ReaderConfig", {}).get("InputType") != "JSON":
                raise StatesError("States.Runtime", "the local runner reads JSON arrays with s3:getObject only")
            where = resolve(reader["Parameters"], data, context)
            try:
                items = json.loads(self.objects.get(where["Bucket"], where["Key"]))
            except Exception as failure:
                raise StatesError(
                    "States.ItemReaderFailed", f"reading s3://{where['Bucket']}/{where['Key']}: {failure}"
                ) from failure
        if not isinstance(items, list):
            raise StatesError("States.ItemReaderFailed", "the items are not a JSON array")
        return items

    def _map(
        self, state: Mapping[str, Any], data: Any, context: Mapping[str, Any], should_stop: Callable[[], bool]
    ) -> Any:
        items = self._items(state, data, context)
        processor = state.get("ItemProcessor") or state["Iterator"]
        label = state.get("Label", "the map")
        failed = threading.Event()

        def item_stopped() -> bool:
            return failed.is_set() or should_stop()

        def run_item(index: int, item: Any) -> dict[str, Any]:
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            item_input = resolve(state["ItemSelector"], data, item_context) if "ItemSelector" in state else item
            record: dict[str, Any] = {"Input": item_input, "StartDate": _instant()}
            try:
                size = json_size(item_input)
                if size > MAP_ITEM_MAX_BYTES:
                    raise StatesError(
                        DATA_LIMIT_EXCEEDED,
                        f"the input of item {index} of {label} is {size} bytes, over the map item quota of "
                        f"{MAP_ITEM_MAX_BYTES}",
                    )
                record["Output"] = self._run_machine(processor, item_input, item_context, item_stopped)
            except ExecutionStopped as failure:
                record["stopped"] = failure
            except Exception as failure:
                failed.set()
                record["failure"] = failure
            record["StopDate"] = _instant()
            return record

        workers = max(1, min(int(state.get("MaxConcurrency") or len(items) or 1), len(items) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exhaust-map") as pool:
            futures: list[Future[dict[str, Any]]] = [pool.submit(run_item, i, item) for i, item in enumerate(items)]
            records = [future.result() for future in futures]
        if should_stop():
            raise ExecutionStopped()
        written = self._write_results(state, context, records) if "ResultWriter" in state else None
        # Items cut short because another failed are not the cause.
        causes = [record["failure"] for record in records if "failure" in record]
        if causes:
            error, _ = error_of(causes[0])
            raise StatesError(
                "States.ExceedToleratedFailureThreshold", f"an item of {label} failed: {error}"
            ) from causes[0]
        return written if written is not None else [record["Output"] for record in records]

    def _write_results(
        self, state: Mapping[str, Any], context: Mapping[str, Any], records: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The children's results to S3 as the ResultWriter writes them; answers the Map state's result."""
        writer = state["ResultWriter"]
        if writer["Resource"] != S3_PUT_OBJECT:
            raise StatesError("States.Runtime", "the local runner writes map results with s3:putObject only")
        where = resolve(writer["Parameters"], {}, context)
        bucket, prefix = where["Bucket"], str(where.get("Prefix", "")).rstrip("/")
        execution = str(context["Execution"]["Id"])
        machine_arn, _, _ = execution.replace(":execution:", ":stateMachine:").rpartition(":")
        label = state.get("Label", "Map")
        run_id = str(uuid.uuid4())
        map_run_arn = f"{machine_arn.replace(':stateMachine:', ':mapRun:')}/{label}:{run_id}"
        base = f"{prefix}/{run_id}/" if prefix else f"{run_id}/"
        by_status: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for record in records:
            name = str(uuid.uuid4())
            entry: dict[str, Any] = {
                "ExecutionArn": f"{machine_arn.replace(':stateMachine:', ':execution:')}/{label}:{name}",
                "Input": json.dumps(record["Input"]),
                "InputDetails": {"Included": True},
                "Name": name,
                "RedriveCount": 0,
                "StartDate": record["StartDate"],
                "StateMachineArn": f"{machine_arn}/{label}",
                "StopDate": record["StopDate"],
            }
            if "Output" in record:
                entry.update(Output=json.dumps(record["Output"]), OutputDetails={"Included": True}, Status="SUCCEEDED")
            elif "failure" in record:
                error, cause = error_of(record["failure"])
                entry.update(Error=error, Cause=cause, Status="FAILED")
            else:
                entry.update(Error="States.Aborted", Cause="stopped: another item failed", Status="ABORTED")
            by_status["SUCCEEDED" if entry["Status"] == "SUCCEEDED" else "FAILED"].append(entry)
        files: dict[str, list[dict[str, Any]]] = {status: [] for status in by_status}
        try:
            for status, entries in by_status.items():
                for number, body in enumerate(_result_files(entries)):
                    key = f"{base}{status}_{number}.json"
                    self.objects.put(bucket, key, body)
                    files[status].append({"Key": key, "Size": len(body)})
            manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
            self.objects.put(bucket, f"{base}manifest.json", json.dumps(manifest).encode("utf-8"))
        except Exception as failure:
            raise StatesError("States.ResultWriterFailed", f"writing to s3://{bucket}/{base}: {failure}") from failure
        return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}manifest.json"}}


def _within(seconds: float, call: Callable[[], Any], function: str) -> Any:
    """`call()` on its own thread; Lambda.Unknown when it has not answered after `seconds`."""
    outcome: dict[str, Any] = {}
    answered = threading.Event()

    def run() -> None:
        try:
            outcome["answer"] = call()
        except BaseException as failure:  # handed to the caller's thread, as the invocation's error
            outcome["failure"] = failure
        finally:
            answered.set()

    threading.Thread(target=run, name=f"exhaust-invoke-{function}", daemon=True).start()
    if not answered.wait(seconds):
        raise StatesError(FUNCTION_LIMIT_ERROR, f"{function} timed out after {seconds:.2f} seconds")
    if "failure" in outcome:
        raise outcome["failure"]
    return outcome["answer"]


def _result_files(entries: list[dict[str, Any]]) -> list[bytes]:
    """The entries as JSON arrays of at most RESULT_WRITER_FILE_MAX_BYTES each (none for no entries)."""
    files: list[bytes] = []
    chunk: list[bytes] = []
    size = 2
    for entry in entries:
        encoded = json.dumps(entry).encode("utf-8")
        if chunk and size + len(encoded) + 1 > RESULT_WRITER_FILE_MAX_BYTES:
            files.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 2
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        files.append(b"[" + b",".join(chunk) + b"]")
    return files


def step_functions(pipeline: Pipeline) -> dict[str, Function]:
    """The definition's functions bound straight to the steps (tests)."""
    return {
        PLAN_FUNCTION: lambda event: plan.handle(pipeline, event),
        BUILDER_FUNCTION: lambda event: build_batch.handle(pipeline, event),
        FINALIZE_FUNCTION: lambda event: finalize.handle(pipeline, event),
        MARK_FAILED_FUNCTION: lambda event: mark_failed.handle(pipeline, event),
    }


@dataclass
class LocalWorkflow:
    """The Workflow port on the local runner: executions run on a small thread pool (or inline, for tests)."""

    runner: LocalRunner
    state_machine_arn: str = LOCAL_STATE_MACHINE_ARN
    max_running: int = 4
    synchronous: bool = False
    statuses: dict[str, str] = field(default_factory=dict)
    _stopped: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _pool: ThreadPoolExecutor | None = None

    def execution_arn(self, name: str) -> str:
        return execution_arn_for(self.state_machine_arn, name)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        arn = self.execution_arn(name)
        with self._lock:
            if arn in self.statuses:
                raise ExecutionAlreadyExists(name)
            self.statuses[arn] = RUNNING
        if self.synchronous:
            self._execute(arn, payload)
            return arn
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.max_running, thread_name_prefix="exhaust-execution")
        self._pool.submit(self._execute, arn, payload)
        return arn

    def _execute(self, arn: str, payload: dict[str, Any]) -> None:
        try:
            self.runner.run(arn, payload, lambda: self._stopping.is_set() or arn in self._stopped)
            status = "SUCCEEDED"
        except ExecutionStopped:
            status = "ABORTED"
        except Exception as failure:
            error, cause = error_of(failure)
            logger.warning("local execution failed", extra={"execution": arn, "error": error, "cause": cause[:500]})
            status = "FAILED"
        with self._lock:
            if self.statuses.get(arn) == RUNNING:
                self.statuses[arn] = status

    def describe(self, execution_arn: str) -> str | None:
        return self.statuses.get(execution_arn)

    def stop(self, execution_arn: str, cause: str) -> None:
        with self._lock:
            self._stopped.add(execution_arn)
            if self.statuses.get(execution_arn) == RUNNING:
                self.statuses[execution_arn] = "ABORTED"

    def shutdown(self) -> None:
        """Stop: running executions end at their next state; queued ones never start."""
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
