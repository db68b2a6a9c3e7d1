"""CORS for browsers: which origins may call the API, and the preflight answer API Gateway and the local gateway give.

Allowed origins are a setting (`cors_allowed_origins`, comma-separated exact origins such as
`https://portal.example.org`; none by default, so no browser page of another origin may read an answer). The token
travels in the Authorization header, never in a query string or a cookie, so no origin is ever told to send
credentials (no Access-Control-Allow-Credentials). infra/api.py declares the same preflight on every path from these
constants (CDK's CORS preflight), and the local gateway answers it with `preflight_headers`: a test compares the two.
"""

from __future__ import annotations

import re

# What a browser page sends: the token, the channel, a JSON body, and the submit's optional headers.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Channel-Id", "Idempotency-Key", "X-Authenticated-Userid")
# What a page may read of an answer besides the simple headers: when to retry (429).
EXPOSED_HEADERS = ("Retry-After",)
# Browsers keep a preflight's answer at most this long (Chromium caps it at 7,200 s; Firefox at 86,400 s).
MAX_AGE_SECONDS = 600
PREFLIGHT_STATUS = 204
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def parse_origins(setting: str) -> tuple[str, ...]:
    """The allowed origins of the setting; a ValueError naming one that is not `scheme://host[:port]` (no path, no
    wildcard: every origin is named)."""
    origins = tuple(dict.fromkeys(part.strip() for part in setting.split(",") if part.strip()))
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ValueError(
                f"cors_allowed_origins: '{origin}' is not an origin (scheme://host[:port], no path, no wildcard)"
            )
    return origins


def preflight_headers(methods: list[str], origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """The preflight answer's headers, as CDK's CORS preflight makes API Gateway answer them: the caller's origin
    when it is allowed, else the first allowed one (which the browser then refuses)."""
    headers = {
        "Access-Control-Allow-Headers": ",".join(ALLOWED_HEADERS),
        "Access-Control-Allow-Origin": origin if origin in allowed else allowed[0],
        "Access-Control-Allow-Methods": ",".join(methods),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
    if len(allowed) > 1:
        headers["Vary"] = "Origin"
    return headers


def response_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """The headers an answer carries for a page of an allowed origin (none for any other caller)."""
    if not origin or origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": ",".join(EXPOSED_HEADERS),
        "Vary": "Origin",
    }
