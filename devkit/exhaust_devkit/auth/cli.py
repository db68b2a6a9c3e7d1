"""`exhaust token ...` and `exhaust license ...`: manage credentials of local mode or a deployed stack."""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from exhaust.identifiers import IDENTIFIER_RULE, is_identifier, shown
from exhaust_client.client import ClientError, UsageError, read_local_credentials

if TYPE_CHECKING:
    from exhaust.auth.credentials import CredentialKind, CredentialStore

# The roles the service checks: a dataset's (on-demand ones default to these), the operator's, the portal's.
# Spelled out so that the command starts without boto3 and pydantic; a unit test keeps them equal to the service's.
ADMIN_ROLE = "ADMIN"
COURSE_ADMIN_ROLE = "COURSE_ADMIN"
KNOWN_ROLES = ("ORG_ADMIN", "REPORT_ADMIN", "COURSE_ADMIN", ADMIN_ROLE, "ON_BEHALF")
NO_STORE_HINT = "start local mode with `make run` in the repository, or name a deployed stack's table with --table"


def expiry_days(value: str) -> int:
    """--expires-days: a whole number of days, at least 1 (omit it for a credential that does not expire)."""
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 day, got {days} (omit it for no expiry)")
    return days


def store_for(args: argparse.Namespace) -> CredentialStore:
    """A deployed stack's table (--table, with the usual AWS credentials) or local mode's (credentials file)."""
    from exhaust import aws, resources
    from exhaust.auth.credentials import CredentialStore
    from exhaust.resources import LocalNames

    if args.table:
        return CredentialStore(args.table)
    local = read_local_credentials(args.local_credentials, NO_STORE_HINT)
    os.environ["AWS_ENDPOINT_URL"] = str(local.get("awsEndpoint") or "")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset_clients()
    return CredentialStore(LocalNames().table(resources.CREDENTIALS_TABLE))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _token_create(args: argparse.Namespace) -> int:
    if not args.channel and ADMIN_ROLE not in args.role:
        raise UsageError("--channel: a token needs the channel(s) it acts for (or --role ADMIN for every channel)")
    if args.course and COURSE_ADMIN_ROLE not in args.role:
        raise UsageError("--course: only a COURSE_ADMIN token is scoped to courses (add --role COURSE_ADMIN)")
    for course in args.course:
        if not is_identifier(course):
            raise UsageError(f"--course: '{shown(course)}' is not a course id: {IDENTIFIER_RULE}")
    secret, credential = store_for(args).create(
        "token",
        args.name,
        channels=args.channel,
        roles=args.role,
        user_id=args.user_id or args.name,
        courses=list(dict.fromkeys(args.course)),
        expires_in_days=args.expires_days,
    )
    _print({"token": secret, "shownOnce": True, **credential.public_view()})
    return 0


def _license_create(args: argparse.Namespace) -> int:
    from exhaust.auth.credentials import resource_id_of

    resource_ids = list(args.resource_id) + [resource_id_of(partner) for partner in args.partner_id]
    if not resource_ids:
        raise UsageError("--partner-id or --resource-id: a license key needs the partner whose data it serves")
    secret, credential = store_for(args).create(
        "license",
        args.name,
        resource_ids=resource_ids,
        datasets=args.dataset,
        expires_in_days=args.expires_days,
    )
    _print({"licenseKey": secret, "shownOnce": True, **credential.public_view()})
    return 0


def _list(kind: CredentialKind) -> Any:
    def run(args: argparse.Namespace) -> int:
        _print([credential.public_view() for credential in store_for(args).all_credentials(kind)])
        return 0

    return run


def _revoke(args: argparse.Namespace) -> int:
    revoked = store_for(args).revoke(args.credential_id)
    if revoked is None:
        raise ClientError(f"no credential with id {args.credential_id}: `list` shows the ids")
    _print(revoked.public_view())
    return 0


def register(commands: Any) -> None:
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--table", help="credentials table of a deployed stack (stack output CredentialsTableName)")
    target.add_argument("--local-credentials", default=".exhaust/local.json", help="local mode's credentials file")

    token = commands.add_parser("token", help="API tokens (Bearer)")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", parents=[target], help="create a token and print it once")
    create.add_argument("--name", required=True, help="who or what holds it (shown by list)")
    create.add_argument("--channel", action="append", default=[], help="channel it may act for (repeatable, * = all)")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=KNOWN_ROLES,
        help="a role it has (repeatable; at least one): the dataset roles, ADMIN (every channel, the registry), "
        "ON_BEHALF (may name the end user)",
    )
    create.add_argument(
        "--user-id",
        default="",
        help="requestedBy of its requests (default: the name); for COURSE_ADMIN, the user the lake's batches name "
        "as created_by or among mentors",
    )
    create.add_argument(
        "--course",
        action="append",
        default=[],
        help="COURSE_ADMIN: a course (collection id) it acts on (repeatable); the lake's batches add those whose "
        "created_by or mentors name --user-id",
    )
    create.add_argument(
        "--expires-days", type=expiry_days, default=None, help="days until it expires, at least 1 (default: never)"
    )
    create.set_defaults(run=_token_create)
    token_commands.add_parser("list", parents=[target], help="list tokens (never secrets)").set_defaults(
        run=_list("token")
    )
    revoke = token_commands.add_parser("revoke", parents=[target], help="revoke a token by its credentialId")
    revoke.add_argument("credential_id", help="the credentialId list shows")
    revoke.set_defaults(run=_revoke)

    license_key = commands.add_parser("license", help="license keys of the legacy dataset API")
    license_commands = license_key.add_subparsers(dest="license_command", required=True)
    create = license_commands.add_parser("create", parents=[target], help="create a license key and print it once")
    create.add_argument("--name", required=True, help="who or what holds it (shown by list)")
    create.add_argument("--partner-id", action="append", default=[], help="partner id (its SHA-1 is the resourceId)")
    create.add_argument("--resource-id", action="append", default=[], help="resourceId (SHA-1 hex) directly")
    create.add_argument("--dataset", action="append", default=[], required=True, help="dataset id it may download")
    create.add_argument(
        "--expires-days", type=expiry_days, default=None, help="days until it expires, at least 1 (default: never)"
    )
    create.set_defaults(run=_license_create)
    license_commands.add_parser("list", parents=[target], help="list license keys (never secrets)").set_defaults(
        run=_list("license")
    )
    revoke = license_commands.add_parser("revoke", parents=[target], help="revoke a license key by credentialId")
    revoke.add_argument("credential_id", help="the credentialId list shows")
    revoke.set_defaults(run=_revoke)
