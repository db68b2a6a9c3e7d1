"""The HTTP side: the declared operations, event parsing, the envelope, the route table and the OpenAPI document."""
