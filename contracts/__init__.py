"""Contract tooling for the Kore.ai erase users data API.

`contracts.spec` loads, validates and bundles the contract (`openapi.yaml`).
"""

from contracts.spec import Spec, SpecError, load_spec

__all__ = ["Spec", "SpecError", "load_spec"]
