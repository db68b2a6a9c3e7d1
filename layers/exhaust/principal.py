"""Who is calling: what the authorizer established from the Bearer token."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

ADMIN_ROLE = "ADMIN"
ORG_ADMIN_ROLE = "ORG_ADMIN"
REPORT_ADMIN_ROLE = "REPORT_ADMIN"
# A course's creator or mentor: acts only on its courses (exhaust.auth.scope).
COURSE_ADMIN_ROLE = "COURSE_ADMIN"
# Roles allowed on on-demand datasets unless the dataset's registration says otherwise.
DEFAULT_DATASET_ROLES = (ORG_ADMIN_ROLE, REPORT_ADMIN_ROLE, COURSE_ADMIN_ROLE)
# Holders of this role act for end users: they may name the requester in X-Authenticated-Userid.
ON_BEHALF_ROLE = "ON_BEHALF"
WILDCARD_CHANNEL = "*"


class Principal(BaseModel):
    credential_id: str
    name: str
    channels: tuple[str, ...]
    roles: tuple[str, ...]
    user_id: str
    # Courses named on the token (`exhaust token create --course`); the lake may entitle a COURSE_ADMIN to more.
    courses: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def may_act_for(self, channel: str) -> bool:
        return channel in self.channels or WILDCARD_CHANNEL in self.channels or self.is_admin

    def to_authorizer_context(self) -> dict[str, str]:
        """API Gateway passes only flat string values from an authorizer to the function."""
        return {
            "credentialId": self.credential_id,
            "name": self.name,
            "channels": ",".join(self.channels),
            "roles": ",".join(self.roles),
            "userId": self.user_id,
            "courses": ",".join(self.courses),
        }

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any]) -> Principal:
        def split(value: Any) -> tuple[str, ...]:
            return tuple(part for part in str(value or "").split(",") if part)

        return cls(
            credential_id=str(context.get("credentialId", "")),
            name=str(context.get("name", "")),
            channels=split(context.get("channels")),
            roles=split(context.get("roles")),
            user_id=str(context.get("userId", "")),
            courses=split(context.get("courses")),
        )
