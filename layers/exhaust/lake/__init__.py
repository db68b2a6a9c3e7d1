"""The data lake the builders read: table schemas, a reader/writer, a catalog (synthetic lakes: exhaust_devkit.lake).

Everything here imports pyarrow, so only the builder image and the CLI load this package (never the API).
See docs/lake.md for the tables and their layout.
"""
