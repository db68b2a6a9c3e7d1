"""The HTTP side: envelope, event parsing, route table, OpenAPI."""
