"""Dataset ids and defaults other modules use; no imports, so the builders can use them without boto3 or pydantic."""

ORG_PII_EXHAUST = "org-pii-exhaust"
# On-demand datasets scoped by the requesting organisation (X-Channel-Id) instead of batches: no batch selector.
ORG_SCOPED_DATASETS = frozenset({ORG_PII_EXHAUST})
# The batches one request may name when its dataset sets no limit (exhaust.datasets.registry.DatasetLimits).
DEFAULT_MAX_BATCHES_PER_REQUEST = 100
