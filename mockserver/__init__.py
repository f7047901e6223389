"""A stateful, spec-driven mock of the Kore.ai erase users data API."""
