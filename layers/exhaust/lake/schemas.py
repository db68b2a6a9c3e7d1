"""The lake's tables: their Arrow schemas, sort keys and row-group sizes (docs/lake.md explains each column).

Every table is stored as Parquet files under `{lake root}/{table}/`, sorted by its sort key and cut into row
groups whose min/max statistics let a reader skip every row group that cannot hold the rows it wants (one
batch's enrolments, one user range, one day of telemetry).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")

COLLECTION_STATUSES = ("Live", "Unlisted", "Retired")
RETIRED = "Retired"
CONSENT_ACTIVE = "ACTIVE"
CONSENT_REVOKED = "REVOKED"
ENROLMENT_COMPLETED = 2
CERTIFICATE_ISSUED = "Issued"
CERTIFICATE_FAILED = "Failed"
# Assessment categories whose best attempts make up the progress dataset's scores.
SCORED_CATEGORIES = ("SelfAssess", "Practice Question Set")

UNIT = pa.struct(
    [
        ("unit_id", pa.string()),
        ("name", pa.string()),
        ("parent_id", pa.string()),
        ("depth", pa.int16()),
        ("trackable", pa.bool_()),
        ("leaf_count", pa.int32()),
        ("leaf_ids", pa.list_(pa.string())),
    ]
)
ASSESSMENT = pa.struct(
    [
        ("assessment_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("unit_id", pa.string()),
    ]
)
CERTIFICATE = pa.struct(
    [
        ("certificate_id", pa.string()),
        ("name", pa.string()),
        ("status", pa.string()),
        ("issued_on", TIMESTAMP),
    ]
)

COLLECTIONS = pa.schema(
    [
        ("collection_id", pa.string(), False),
        ("name", pa.string()),
        ("channel", pa.string()),
        ("content_type", pa.string()),
        ("status", pa.string()),
        ("requires_consent", pa.bool_()),
        ("leaf_count", pa.int32()),
        ("leaf_ids", pa.list_(pa.string())),
        ("units", pa.list_(UNIT)),
        ("assessments", pa.list_(ASSESSMENT)),
        ("created_on", TIMESTAMP),
    ]
)
BATCHES = pa.schema(
    [
        ("batch_id", pa.string(), False),
        ("collection_id", pa.string(), False),
        ("name", pa.string()),
        ("enrolment_type", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("created_by", pa.string()),
        ("mentors", pa.list_(pa.string())),
    ]
)
ENROLMENTS = pa.schema(
    [
        ("batch_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("collection_id", pa.string(), False),
        ("enrolled_on", TIMESTAMP),
        ("completed_on", TIMESTAMP),
        ("status", pa.int8()),
        ("completed_contents", pa.list_(pa.string())),
        ("certificates", pa.list_(CERTIFICATE)),
    ]
)
USERS = pa.schema(
    [
        ("user_id", pa.string(), False),
        ("name", pa.string()),
        ("state", pa.string()),
        ("district", pa.string()),
        ("block", pa.string()),
        ("cluster", pa.string()),
        ("school_id", pa.string()),
        ("school_name", pa.string()),
        ("org_name", pa.string()),
        ("board", pa.string()),
        ("user_type", pa.string()),
        ("user_sub_type", pa.string()),
        ("declared_org", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("root_org_id", pa.string()),
    ]
)
CONSENTS = pa.schema(
    [
        ("collection_id", pa.string(), False),
        ("consumer_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("status", pa.string()),
        ("consented_on", TIMESTAMP),
    ]
)
ASSESSMENT_ATTEMPTS = pa.schema(
    [
        ("batch_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("collection_id", pa.string(), False),
        ("content_id", pa.string(), False),
        ("content_title", pa.string()),
        ("attempt_id", pa.string(), False),
        ("attempted_on", TIMESTAMP),
        ("question_index", pa.int16()),
        ("question_id", pa.string()),
        ("question_type", pa.string()),
        ("question_title", pa.string()),
        ("question_description", pa.string()),
        ("question_duration", pa.float64()),
        ("question_score", pa.float64()),
        ("question_max_score", pa.float64()),
        ("question_options", pa.string()),
        ("question_response", pa.string()),
    ]
)
# Org-level consents (seed 002 appendix IV): a user shares their details with an org (the consumer), optionally
# with an org-specific phone and email, and optionally until a date (valid through `expires_on`).
ORG_CONSENTS = pa.schema(
    [
        ("consumer_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("status", pa.string()),
        ("consented_on", TIMESTAMP),
        ("expires_on", pa.date32()),
        ("org_phone", pa.string()),
        ("org_email", pa.string()),
    ]
)
# Identifiers a user profile gains beside USERS: the UDISE code of their school and an external id.
USER_IDENTIFIERS = pa.schema(
    [
        ("user_id", pa.string(), False),
        ("school_udise_id", pa.string()),
        ("external_id", pa.string()),
    ]
)
# Which question types need the user's registration consent before their responses are shared (appendix III).
QUESTION_TYPES = pa.schema(
    [
        ("question_type", pa.string(), False),
        ("requires_registration_consent", pa.bool_()),
    ]
)
# Registration consents per course: the latest event of (collection, user) decides.
REGISTRATION_CONSENTS = pa.schema(
    [
        ("collection_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("status", pa.string()),
        ("consented_on", TIMESTAMP),
    ]
)
# The lake's index of profiles by batch (exhaust.lake.extracts): each enrolment's user profile, written when the
# lake is loaded, so a batch's users are one run of rows instead of a lookup spread over the whole users table.
# `best_attempts`: the user's best attempt (highest summed score, then lowest summed max) at each content they
# attempted in the batch, by content_id, so progress-exhaust reads scores with the profiles instead of
# grouping the batch's question rows.
BEST_ATTEMPT = pa.struct([("content_id", pa.string()), ("score", pa.float64()), ("max", pa.float64())])
# `progress_line`: the enrolment's progress-exhaust CSV line (null for a retired or unknown batch).
BATCH_USERS = pa.schema(
    [
        ("batch_id", pa.string(), False),
        *USERS,
        ("best_attempts", pa.list_(BEST_ATTEMPT)),
        ("progress_line", pa.string()),
    ]
)
# Finished userinfo-exhaust lines (exhaust.lake.materialized): per batch and consumer (the requesting org), the
# lines of the users whose latest consent to that consumer is ACTIVE, in User UUID order.
USERINFO_LINES = pa.schema(
    [
        ("batch_id", pa.string(), False),
        ("consumer_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("userinfo_line", pa.string(), False),
    ]
)
# Finished response-exhaust lines per batch, registration consents applied; `line_number` keeps the builder's
# order (User UUID, QuestionSet Id, Attempt Id, question position) without storing those columns again.
RESPONSE_LINES = pa.schema(
    [
        ("batch_id", pa.string(), False),
        ("line_number", pa.int64(), False),
        ("response_line", pa.string(), False),
    ]
)
TELEMETRY = pa.schema(
    [
        ("event_date", pa.date32(), False),
        ("channel", pa.string()),
        ("partner_id", pa.string()),
        ("event_id", pa.string()),
        ("eid", pa.string()),
        ("ets", TIMESTAMP),
        ("session_id", pa.string()),
        ("actor_id", pa.string()),
        ("content_id", pa.string()),
        ("duration_seconds", pa.float64()),
        ("event_json", pa.string()),
    ]
)
OBSERVATIONS = pa.schema(
    [
        ("observed_at", TIMESTAMP, False),
        ("producer_type", pa.string()),
        ("producer_id", pa.string()),
        ("metric", pa.string()),
        ("unit", pa.string()),
        ("value", pa.float64()),
        ("channel", pa.string()),
    ]
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    sort_key: tuple[str, ...]
    # Small enough that a read by key range decodes little beyond the range (a builder's chunk of 65,536
    # users spans about 4 row groups of users), large enough for good compression and a small footer.
    row_group_size: int = 32_768
    # A row group never holds two values of these columns: a small batch's rows are row groups of their own, so
    # reading one batch decodes nothing of its neighbours.
    split_by: tuple[str, ...] = ()


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("collections", COLLECTIONS, ("collection_id",)),
        TableSpec("batches", BATCHES, ("batch_id",)),
        TableSpec("enrolments", ENROLMENTS, ("batch_id", "user_id"), split_by=("batch_id",)),
        TableSpec("users", USERS, ("user_id",), row_group_size=16_384),
        TableSpec(
            "consents",
            CONSENTS,
            ("collection_id", "consumer_id", "user_id", "consented_on"),
            # userinfo-exhaust reads a chunk's users' consents by id range: small groups, little decoded twice.
            row_group_size=8_192,
        ),
        TableSpec(
            "assessment_attempts",
            ASSESSMENT_ATTEMPTS,
            ("batch_id", "user_id", "content_id", "attempt_id", "question_index"),
            # A chunk of enrolments reads its users' attempts by id range: smaller groups, less decoded twice.
            row_group_size=16_384,
            split_by=("batch_id",),
        ),
        TableSpec("org_consents", ORG_CONSENTS, ("consumer_id", "user_id", "consented_on")),
        TableSpec("user_identifiers", USER_IDENTIFIERS, ("user_id",), row_group_size=16_384),
        TableSpec("question_types", QUESTION_TYPES, ("question_type",)),
        TableSpec("registration_consents", REGISTRATION_CONSENTS, ("collection_id", "user_id", "consented_on")),
        TableSpec("batch_users", BATCH_USERS, ("batch_id", "user_id"), split_by=("batch_id",)),
        TableSpec(
            "userinfo_lines",
            USERINFO_LINES,
            ("batch_id", "consumer_id", "user_id"),
            split_by=("batch_id", "consumer_id"),
        ),
        TableSpec("response_lines", RESPONSE_LINES, ("batch_id", "line_number"), split_by=("batch_id",)),
        TableSpec("telemetry", TELEMETRY, ("event_date", "channel", "partner_id", "ets")),
        TableSpec("observations", OBSERVATIONS, ("observed_at",)),
    )
}
