"""The mock's ASGI application: Connexion's middleware stack with the mock's own layers.

Connexion is imported here first, with the deprecation warnings it triggers at import
time (jsonschema's `RefResolver`, Starlette's test client with httpx) silenced: they are
about Connexion's code, not the caller's, and would otherwise show in every test session
that uses the mock.
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import connexion  # noqa: F401
    import connexion.apps.abstract  # noqa: F401 - Starlette's test client, imported by Connexion's apps
