"""The documented module path of the runner's checks for schemathesis's CLI:

    SCHEMATHESIS_HOOKS=contracts.st_checks st run openapi.yaml ...

Importing it registers the checks; they live in `contracts.judging.st_hooks`."""

from contracts.judging.st_hooks import lifecycle_consistency, request_id_format, request_id_unique

__all__ = ["lifecycle_consistency", "request_id_format", "request_id_unique"]
