"""The identities a contract run speaks as, and the environment variables
that carry them. Owned here because both tools use them: the runner reads
the variables, and `mockserver apps --contracts-env` writes them for its
fixture apps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ENV_PREFIX = "CONTRACTS_"


class Speaker(StrEnum):
    """Who a planned call speaks as: one of the identities below, or a header value
    sent as generated (`LITERAL`: not a token the run minted)."""

    APP = "app"
    OTHER_TENANT = "other_tenant"
    UNSCOPED = "unscoped"
    LITERAL = "literal"


@dataclass(frozen=True)
class Identity:
    """One identity a run speaks as: the `RunConfig` field holding its credentials,
    its options, its environment variables, and the `Speaker` of its calls."""

    key: str  # the RunConfig field
    flag: str  # the option prefix, e.g. "other-tenant" for --other-tenant-client-id
    purpose: str
    speaker: Speaker

    @property
    def env_prefix(self) -> str:
        return ENV_PREFIX + (self.flag.upper().replace("-", "_") + "_" if self.flag else "")

    @property
    def client_id_env(self) -> str:
        return self.env_prefix + "CLIENT_ID"

    @property
    def client_secret_env(self) -> str:
        return self.env_prefix + "CLIENT_SECRET"

    def option(self, name: str) -> str:
        return f"--{self.flag}-{name}" if self.flag else f"--{name}"


APP_UNDER_TEST = Identity("credentials", "", "the app under test (tokens are signed fresh per request)", Speaker.APP)
OTHER_TENANT = Identity("other_tenant", "other-tenant", "an app of another account (enables the isolation check)",
                        Speaker.OTHER_TENANT)
UNSCOPED = Identity("unscoped", "unscoped", "an app without the scope (enables the 403 check)", Speaker.UNSCOPED)
IDENTITIES = (APP_UNDER_TEST, OTHER_TENANT, UNSCOPED)

#: User ids that may be erased (space-separated), and ids the business rule refuses to erase.
ERASE_USER_IDS_ENV = ENV_PREFIX + "ERASE_USER_IDS"
REFUSED_USER_IDS_ENV = ENV_PREFIX + "REFUSED_USER_IDS"
BASE_URL_ENV = ENV_PREFIX + "BASE_URL"
TOKEN_ENV = ENV_PREFIX + "TOKEN"
