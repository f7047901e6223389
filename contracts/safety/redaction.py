"""Moved to `contracts.core.redaction` (the proxy redacts its journal and
recordings with it too); kept so that existing imports work."""

from contracts.core.redaction import FRAGMENT, MARK, Redactor

__all__ = ["FRAGMENT", "MARK", "Redactor"]
