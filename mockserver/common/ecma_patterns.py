"""Moved to `contracts.core.ecma_patterns` (the proxy and `contracts verify` read
the contract's patterns the same way); kept so that existing imports work."""

from contracts.core.ecma_patterns import ecma, with_ecma_patterns

__all__ = ["ecma", "with_ecma_patterns"]
