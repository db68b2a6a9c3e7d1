"""Credentials: hashing, license key rules and the admin CLI."""

import json

import pytest
from exhaust.auth.checks import AuthorizationFailed, LoginFailed, authenticate_license, authenticate_token
from exhaust.auth.credentials import CredentialStore, hash_secret, resource_id_of
from exhaust.errors import Unauthorized
from exhaust_devkit.cli import main


def test_only_the_hash_of_a_token_is_stored(aws_resources):
    from exhaust import aws

    secret, _credential = CredentialStore().create("token", "t", channels=["c"], roles=["ORG_ADMIN"])
    assert len(secret) > 40
    stored = json.dumps(aws.client("dynamodb").scan(TableName=aws_resources.credentials_table)["Items"])
    assert secret not in stored
    assert hash_secret(secret) in stored
    assert authenticate_token(secret).channels == ("c",)


def test_license_key_rules(aws_resources):
    resource = resource_id_of("org.partner.one")
    key, credential = CredentialStore().create("license", "p1", resource_ids=[resource], datasets=["raw-telemetry"])
    assert authenticate_license(key, resource, "raw-telemetry").credentialId == credential.credentialId
    with pytest.raises(LoginFailed):
        authenticate_license("lic_unknown", resource, "raw-telemetry")
    with pytest.raises(AuthorizationFailed):
        authenticate_license(key, resource_id_of("org.partner.two"), "raw-telemetry")
    with pytest.raises(AuthorizationFailed):
        authenticate_license(key, resource, "other-dataset")
    CredentialStore().revoke(credential.credentialId)
    with pytest.raises(LoginFailed):
        authenticate_license(key, resource, "raw-telemetry")


def test_a_license_key_is_not_a_token(aws_resources):
    key, _ = CredentialStore().create("license", "p1", resource_ids=["r"], datasets=["d"])
    with pytest.raises(Unauthorized):
        authenticate_token(key)


def test_admin_cli_creates_lists_and_revokes_without_printing_secrets(aws_resources, capsys):
    table = aws_resources.credentials_table
    assert (
        main(
            [
                "token",
                "create",
                "--table",
                table,
                "--name",
                "portal",
                "--channel",
                "c1",
                "--role",
                "ORG_ADMIN",
                "--expires-days",
                "30",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    token = created["token"]
    assert created["channels"] == ["c1"]
    assert created["expiresAt"] - created["createdAt"] == 30 * 86400

    assert main(["token", "list", "--table", table]) == 0
    listing = capsys.readouterr().out
    assert "portal" in listing
    assert token not in listing
    assert hash_secret(token) not in listing

    assert main(["token", "revoke", "--table", table, created["credentialId"]]) == 0
    capsys.readouterr()
    with pytest.raises(Unauthorized):
        authenticate_token(token)
    assert main(["token", "revoke", "--table", table, "no-such-id"]) == 1

    assert (
        main(
            [
                "license",
                "create",
                "--table",
                table,
                "--name",
                "partner",
                "--partner-id",
                "org.p",
                "--dataset",
                "raw-telemetry",
            ]
        )
        == 0
    )
    license_created = json.loads(capsys.readouterr().out)
    assert license_created["resourceIds"] == [resource_id_of("org.p")]
    assert main(["license", "list", "--table", table]) == 0
    assert license_created["licenseKey"] not in capsys.readouterr().out


def test_authorizer_allows_the_whole_stage_for_a_valid_token_and_refuses_others(aws_resources):
    from exhaust.auth.authorizer import UnauthorizedToken, authorize

    secret, credential = CredentialStore().create("token", "t", channels=["c1", "c2"], roles=["ORG_ADMIN"])
    method_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/api/dataset/v1/request/read/t"
    answer = authorize({"headers": {"Authorization": f"Bearer {secret}"}, "methodArn": method_arn})
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*"
    assert answer["principalId"] == credential.credentialId
    assert answer["context"]["channels"] == "c1,c2"
    assert secret not in json.dumps(answer)
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer exh_unknown"}):
        with pytest.raises(UnauthorizedToken, match=r"^Unauthorized$"):
            authorize({"headers": headers, "methodArn": method_arn})


def test_a_course_admin_token_carries_the_courses_it_names(aws_resources, capsys):
    table = aws_resources.credentials_table
    arguments = ["token", "create", "--table", table, "--name", "mentor", "--channel", "c1", "--user-id", "m-1"]
    assert main([*arguments, "--role", "COURSE_ADMIN", "--course", "do_1", "--course", "do_2", "--course", "do_1"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["courses"] == ["do_1", "do_2"]
    principal = authenticate_token(created["token"])
    assert (principal.courses, principal.user_id) == (("do_1", "do_2"), "m-1")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "ORG_ADMIN", "--course", "do_1"], "--course: only a COURSE_ADMIN token is scoped to courses"),
        (["--role", "COURSE_ADMIN", "--course", "do 1"], "--course: 'do 1' is not a course id"),
    ],
)
def test_token_create_refuses_a_course_it_could_not_use(aws_resources, capsys, extra, message):
    table = aws_resources.credentials_table
    assert main(["token", "create", "--table", table, "--name", "m", "--channel", "c1", *extra]) != 0
    assert message in capsys.readouterr().err
