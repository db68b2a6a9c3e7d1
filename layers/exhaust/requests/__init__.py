"""On-demand exhaust requests: rules, storage, and the submit/read/list/search operations."""
