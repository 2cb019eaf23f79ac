"""The gateway's request and response bodies, one module per area: the OpenAPI document is built from these."""
