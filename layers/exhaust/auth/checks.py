"""The authorization rules every route applies, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exhaust.errors import BadRequest, Forbidden, ServiceError, Unauthorized
from exhaust.identifiers import IDENTIFIER_RULE, is_identifier, shown
from exhaust.principal import Principal

if TYPE_CHECKING:  # the store is loaded by the two functions that authenticate, not by every route's checks
    from exhaust.auth.credentials import Credential, CredentialStore

CHANNEL_HEADER = "X-Channel-Id"
BEARER = "bearer "


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith(BEARER):
        raise Unauthorized("Authorization: a Bearer token is required")
    token = authorization[len(BEARER) :].strip()
    if not token:
        raise Unauthorized("Authorization: a Bearer token is required")
    return token


def authenticate_token(token: str, store: CredentialStore | None = None) -> Principal:
    """The principal a token stands for; unknown, expired and revoked tokens are all a plain 401."""
    from exhaust.auth.credentials import CredentialStore

    credential = (store or CredentialStore()).find(token)
    if credential is None or credential.kind != "token" or not credential.is_usable():
        raise Unauthorized("Authorization: the token is unknown, expired or revoked")
    return Principal(
        credential_id=credential.credentialId,
        name=credential.name,
        channels=tuple(credential.channels),
        roles=tuple(credential.roles),
        user_id=credential.userId,
        courses=tuple(credential.courses),
    )


def not_a_channel_id(channel: str) -> str:
    return f"'{shown(channel)}' is not a channel id: {IDENTIFIER_RULE}"


def require_channel(principal: Principal, channel: str | None) -> tuple[Principal, str]:
    """The caller and the channel (the X-Channel-Id header) it acts for: 400 without it, 403 for one not its own."""
    if channel is None:
        raise BadRequest(f"{CHANNEL_HEADER}: header is required (the channel / organisation id you act for)")
    if not is_identifier(channel):
        raise BadRequest(f"{CHANNEL_HEADER}: {not_a_channel_id(channel)}")
    if not principal.may_act_for(channel):
        raise Forbidden(f"{CHANNEL_HEADER}: this token may not act for channel '{channel}'")
    return principal, channel


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("this operation needs the ADMIN role")


def require_any_role(principal: Principal, allowed: list[str] | tuple[str, ...], what: str) -> None:
    if principal.is_admin or set(principal.roles) & set(allowed):
        return
    raise Forbidden(f"{what}: needs one of the roles {', '.join(allowed)}")


class LegacyAuthError(ServiceError):
    """Errors of the legacy dataset API, whose codes are part of its contract (seed 000)."""


class LoginFailed(LegacyAuthError):
    status = 401
    response_code = "UNAUTHORIZED"
    code = "LOGIN_FAILED"


class AuthorizationFailed(LegacyAuthError):
    status = 403
    response_code = "FORBIDDEN"
    code = "AUTHORIZATION_FAILED"


def authenticate_license(
    license_key: str, resource_id: str, dataset_id: str, store: CredentialStore | None = None
) -> Credential:
    from exhaust.auth.credentials import CredentialStore

    credential = (store or CredentialStore()).find(license_key) if license_key else None
    if credential is None or credential.kind != "license" or not credential.is_usable():
        raise LoginFailed("License key is invalid")
    if resource_id not in credential.resourceIds or dataset_id not in credential.datasets:
        raise AuthorizationFailed("License key does not have access to the given dataset or resource")
    return credential
