"""The format export API (seed 003): the lake's observations as a CKAN-compliant CSV, JSON or XML zip.

`query` checks the path and query parameters; `formats` writes CKAN's datastore dump formats a batch at a time;
`datapackage` describes the result as a Frictionless Data Package; `reader` scans the observations table;
`service` puts them together; `api` is the handler's glue. `reader` and `formats` use pyarrow and are imported
only when an export is built.
"""
