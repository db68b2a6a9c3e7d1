"""Local mode's credentials: a channel token, a course mentor's token, an admin token and a license key, written to the
credentials file."""

from __future__ import annotations

from typing import Any

from exhaust.auth.credentials import CredentialStore, resource_id_of
from exhaust.principal import ADMIN_ROLE, COURSE_ADMIN_ROLE, WILDCARD_CHANNEL
from exhaust.settings import RuntimeSettings

LOCAL_USER = "local-user"
# A mentor of the synthetic lake (exhaust_devkit.lake.generator names mentor-0 .. mentor-19; mentor-0 created a batch of
# every generated lake): local mode's COURSE_ADMIN token acts on that user's courses.
LOCAL_MENTOR = "mentor-0"
LOCAL_PARTNER_ID = "org.sample.partner"
LEGACY_DATASET_ID = "raw-telemetry"


def seed_credentials(settings: RuntimeSettings, channel: str, samples: dict[str, Any]) -> dict[str, Any]:
    store = CredentialStore(settings.credentials_table)
    token, _ = store.create("token", "local channel admin", channels=[channel], roles=["ORG_ADMIN"], user_id=LOCAL_USER)
    admin_token, _ = store.create("token", "local admin", channels=[WILDCARD_CHANNEL], roles=[ADMIN_ROLE])
    mentor_token, _ = store.create(
        "token", "local course mentor", channels=[channel], roles=[COURSE_ADMIN_ROLE], user_id=LOCAL_MENTOR
    )
    partner_id = str(samples.get("partnerId", LOCAL_PARTNER_ID))
    resource_id = resource_id_of(partner_id)
    license_key, _ = store.create("license", "local partner", resource_ids=[resource_id], datasets=[LEGACY_DATASET_ID])
    return {
        "token": token,
        "adminToken": admin_token,
        "mentorToken": mentor_token,
        "samples": {
            "licenseKey": license_key,
            "partnerId": partner_id,
            "resourceId": resource_id,
            "legacyDatasetId": LEGACY_DATASET_ID,
        },
    }
