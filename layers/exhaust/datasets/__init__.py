"""The dataset registry: which datasets exist, who may request them, their limits and validation."""
