"""Contract tooling for the Kore.ai erase users data API.

- `contracts.core`: the contract itself (loading and validating
  `openapi.yaml`, the vocabulary it defines, the vendor's token recipe),
  shared by the mock server and the runner and importing neither;
- the rest of the package is the runner: `contracts run` and `contracts diff`
  property-test a deployment against that contract.

Importing this package loads nothing heavy: each part is imported where used.
"""
