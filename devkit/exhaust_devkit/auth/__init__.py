"""Tokens on a machine: `exhaust token ...` and the sample credentials of local mode."""
