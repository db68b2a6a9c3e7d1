"""Answers several operations declare alike."""

from __future__ import annotations

from exhaust.api.operation import Outcome

NOT_FOUND = Outcome(404)
# The legacy and export APIs answer zips; a large one by a redirect to a presigned link (docs/legacy-and-export.md).
ZIP = "application/zip"
REDIRECT = Outcome(303, "The zip is large: follow Location, a presigned link valid for a limited time")
TOO_LARGE = Outcome(422, "Valid, but too big to answer within API Gateway's 29 s: errmsg says how to narrow it")
