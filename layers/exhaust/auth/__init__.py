"""Credentials (API tokens, legacy license keys), the authorizer's checks, and channel/role rules."""
