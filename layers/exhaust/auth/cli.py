"""`exhaust token ...` and `exhaust license ...`: manage credentials of local mode or a deployed stack."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from exhaust import aws, resources
from exhaust.auth.credentials import CredentialStore, resource_id_of
from exhaust.resources import LocalNames


def store_for(args: argparse.Namespace) -> CredentialStore:
    """A deployed stack's table (--table, with the usual AWS credentials) or local mode's (credentials file)."""
    if args.table:
        return CredentialStore(args.table)
    local = json.loads(Path(args.local_credentials).read_text())
    os.environ["AWS_ENDPOINT_URL"] = local["awsEndpoint"]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset_clients()
    return CredentialStore(LocalNames().table(resources.CREDENTIALS_TABLE))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _token_create(args: argparse.Namespace) -> int:
    secret, credential = store_for(args).create(
        "token",
        args.name,
        channels=args.channel,
        roles=args.role,
        user_id=args.user_id or args.name,
        expires_in_days=args.expires_days,
    )
    _print({"token": secret, "shownOnce": True, **credential.public_view()})
    return 0


def _license_create(args: argparse.Namespace) -> int:
    resource_ids = list(args.resource_id) + [resource_id_of(partner) for partner in args.partner_id]
    secret, credential = store_for(args).create(
        "license",
        args.name,
        resource_ids=resource_ids,
        datasets=args.dataset,
        expires_in_days=args.expires_days,
    )
    _print({"licenseKey": secret, "shownOnce": True, **credential.public_view()})
    return 0


def _list(kind: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        _print([credential.public_view() for credential in store_for(args).all_credentials(kind)])  # type: ignore[arg-type]
        return 0

    return run


def _revoke(args: argparse.Namespace) -> int:
    revoked = store_for(args).revoke(args.credential_id)
    if revoked is None:
        print(f"no credential with id {args.credential_id}", file=sys.stderr)
        return 1
    _print(revoked.public_view())
    return 0


def register(commands: Any) -> None:
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--table", help="credentials table of a deployed stack (stack output CredentialsTableName)")
    target.add_argument("--local-credentials", default=".exhaust/local.json", help="local mode's credentials file")

    token = commands.add_parser("token", help="API tokens (Bearer)")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", parents=[target], help="create a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--channel", action="append", default=[], help="channel it may act for (repeatable, * = all)")
    create.add_argument("--role", action="append", default=[], help="ORG_ADMIN, REPORT_ADMIN, COURSE_ADMIN, ADMIN...")
    create.add_argument("--user-id", default="", help="requestedBy of its requests (default: the name)")
    create.add_argument("--expires-days", type=int, default=None)
    create.set_defaults(run=_token_create)
    token_commands.add_parser("list", parents=[target], help="list tokens (never secrets)").set_defaults(
        run=_list("token")
    )
    revoke = token_commands.add_parser("revoke", parents=[target], help="revoke a token by its credentialId")
    revoke.add_argument("credential_id")
    revoke.set_defaults(run=_revoke)

    license_key = commands.add_parser("license", help="license keys of the legacy dataset API")
    license_commands = license_key.add_subparsers(dest="license_command", required=True)
    create = license_commands.add_parser("create", parents=[target], help="create a license key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--partner-id", action="append", default=[], help="partner id (its SHA-1 is the resourceId)")
    create.add_argument("--resource-id", action="append", default=[], help="resourceId (SHA-1 hex) directly")
    create.add_argument("--dataset", action="append", default=[], required=True, help="dataset id it may download")
    create.add_argument("--expires-days", type=int, default=None)
    create.set_defaults(run=_license_create)
    license_commands.add_parser("list", parents=[target], help="list license keys (never secrets)").set_defaults(
        run=_list("license")
    )
    revoke = license_commands.add_parser("revoke", parents=[target], help="revoke a license key by credentialId")
    revoke.add_argument("credential_id")
    revoke.set_defaults(run=_revoke)
