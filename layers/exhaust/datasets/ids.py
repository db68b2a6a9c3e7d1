"""Dataset ids other modules branch on; no imports, so the builders can use them without boto3 or pydantic."""

ORG_PII_EXHAUST = "org-pii-exhaust"
# On-demand datasets scoped by the requesting organisation (X-Channel-Id) instead of batches: no batch selector.
ORG_SCOPED_DATASETS = frozenset({ORG_PII_EXHAUST})
