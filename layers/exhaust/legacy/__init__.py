"""The legacy Data Exhaust Dataset API (seed 000): a partner's raw telemetry as a zip of per-day zips.

`api` is the glue the handler calls; `rules` checks the body and the dates; `archive` writes the zips from any
iterable of events; `reader` reads the lake's telemetry table (pyarrow) and is only imported when a download
is actually built, so the handler's cold start never loads pyarrow.
"""
