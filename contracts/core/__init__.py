"""The contract, owned by neither tool: `openapi.yaml` loaded and validated
(`spec`), what it says named for code (`vocabulary`), the vendor's token
recipe (`tokens`), the exception tree (`errors`), the identities a run speaks
as (`identities`) and the one-line CLI errors both command-line tools share
(`clikit`).

`mockserver` and the runner import this package; it imports neither of them.
Its modules are imported where used (nothing here loads the validator).
"""
