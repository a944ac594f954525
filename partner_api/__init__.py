"""The HTTP API for partner software (django-ninja, OpenAPI 3 at /api/v1/openapi.json)."""
