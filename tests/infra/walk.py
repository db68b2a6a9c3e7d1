"""Walks over a synthesized template the assertions API does not offer: API paths, a function's statements."""

from __future__ import annotations

from typing import Any

from infra.api import _construct_id

Resources = dict[str, dict[str, Any]]


def of_type(resources: Resources, kind: str) -> Resources:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == kind}


def api_paths(resources: Resources) -> dict[str, str]:
    """AWS::ApiGateway::Resource logical id -> its full path (/api/dataset/v1/...)."""
    parts = of_type(resources, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = parts[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in parts}


def methods(resources: Resources) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> the method's Properties."""
    paths = api_paths(resources)
    found = {}
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource_id = properties["ResourceId"]
        path = paths[resource_id["Ref"]] if "Ref" in resource_id else "/"
        found[(properties["HttpMethod"], path)] = properties
    return found


def function_logical_id(resources: Resources, folder: str) -> str:
    prefix = "Api" + _construct_id(folder)
    matches = [
        logical_id
        for logical_id, r in of_type(resources, "AWS::Lambda::Function").items()
        if logical_id.startswith(prefix) and len(logical_id) == len(prefix) + 8  # CDK's hash suffix
    ]
    assert len(matches) == 1, f"one Lambda for functions/{folder}, found {matches}"
    return matches[0]


def role_statements(resources: Resources, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline and customer managed policies attached to a role."""
    statements: list[dict[str, Any]] = []
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = resources[role_logical_id]["Properties"]
    for arn in role.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:
            statements += resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def function_statements(resources: Resources, folder: str) -> list[dict[str, Any]]:
    function = resources[function_logical_id(resources, folder)]
    return role_statements(resources, function["Properties"]["Role"]["Fn::GetAtt"][0])


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in listed(statement["Action"])}


def render(value: Any) -> str:
    """An ARN as text: Ref -> <Id>, GetAtt -> <Id.Attr>, Join -> concatenation."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    return str(value)


def state_machine(resources, prefix: str = "PipelineWorkflow") -> tuple[str, dict]:
    """The state machine whose logical id starts with `prefix` (by default the exhaust workflow's; the lake index
    has its own, LakeIndexStateMachine...)."""
    (found,) = [
        (logical_id, machine)
        for logical_id, machine in of_type(resources, "AWS::StepFunctions::StateMachine").items()
        if logical_id.startswith(prefix)
    ]
    return found
