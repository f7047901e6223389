"""The contract, owned by neither tool: `openapi.yaml` loaded and validated
(`spec`), what it says named for code (`vocabulary`), the vendor's token
recipe (`tokens`), the exception tree (`errors`) and the one-line CLI errors
both command-line tools share (`clikit`).

`mockserver` and the runner import this package; it imports neither of them.
"""

from contracts.core.errors import ContractsError, SpecError
from contracts.core.spec import Spec, load_spec
from contracts.core.vocabulary import Operation, Vocabulary

__all__ = ["ContractsError", "Operation", "Spec", "SpecError", "Vocabulary", "load_spec"]
