"""Safe against real environments: which target this is, and which erase
requests may be sent to it.

The guarantee (also in the README):
- a base URL whose host is on the deny-list (the vendor's documented
  production hosts) is refused unless `--allow-denied-host` is given;
- against a remote target (any host that is not loopback, or any target with
  `--target-kind remote`), a create call whose body the contract would
  accept, i.e. one that could erase data, is sent only with user ids from
  the allow-list (`--erase-user-id`), and at most `--max-erase-requests`
  times per run (5 by default); without an allow-list no such call is sent;
- generated negative create calls are sent only when their body violates
  the contract (the deployment must reject them); a negative case whose body
  is valid (only a header was made invalid) counts as an erase call;
- every create call answered with a request id is written to the audit log.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator

from contracts.config import DEFAULT_MAX_ERASE_REMOTE, RunConfig
from contracts.core.errors import ConfigError
from contracts.core.spec import Spec


@dataclass(frozen=True)
class Target:
    base_url: str
    host: str
    remote: bool

    @classmethod
    def of(cls, config: RunConfig) -> Target:
        parts = urlsplit(config.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--base-url {config.base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8080)"
            )
        host = parts.hostname.lower().rstrip(".")  # "platform.kore.ai." is the same host
        denied = [d for d in config.denied_hosts if host == d or host.endswith("." + d)]
        if denied and not config.allow_denied_host:
            raise ConfigError(
                f"{host} is a production host of the vendor (deny-list); refusing to test it."
                " Use a staging host, or pass --allow-denied-host if you really mean it"
            )
        remote = {"auto": not _is_loopback(host), "local": False, "remote": True}[config.target_kind]
        return cls(config.base_url.rstrip("/"), host, remote)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class EraseGuard:
    """Decides, for each create call, whether and with which users it is sent."""

    spec: Spec
    target: Target
    allow_list: tuple[str, ...]
    cap: int | None
    audit_log: Path | None
    sent: int = 0
    skipped: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, config: RunConfig, spec: Spec, target: Target) -> EraseGuard:
        cap = config.max_erase_requests
        if cap is None and target.remote:
            cap = DEFAULT_MAX_ERASE_REMOTE
        return cls(spec, target, config.erase_user_ids, cap, config.audit_log)

    def __post_init__(self) -> None:
        body = self.spec.resolve(self.spec.document["components"]["requestBodies"]["EraseRequestBody"])
        schema = dict(body["content"]["application/json"]["schema"])
        schema["components"] = self.spec.document["components"]
        self._validator = Draft4Validator(schema)

    def would_erase(self, body: Any) -> bool:
        """True when this body could erase data: the contract accepts it, or it
        names users (a non-empty list of strings) whatever else is wrong with it,
        since a lenient deployment might ignore the rest (an unknown field, say)."""
        if not isinstance(body, dict):
            return False
        users = body.get("userIds")
        names_users = isinstance(users, list) and bool(users) and all(isinstance(u, str) for u in users)
        return names_users or self._validator.is_valid(body)

    def admit(self, body: Any, rng: random.Random | None = None) -> tuple[bool, Any]:
        """(send?, body to send). Rewrites the user ids of an erasing body on a
        remote target to allow-listed ones; refuses it without an allow-list or
        past the cap. Bodies the contract rejects are always sent as they are."""
        if not self.would_erase(body):
            return True, body
        with self._lock:
            if self.cap is not None and self.sent >= self.cap:
                self.skipped += 1
                return False, body
            if self.target.remote:
                if not self.allow_list:
                    self.skipped += 1
                    return False, body
                count = min(len(body["userIds"]), len(self.allow_list))
                chosen = (rng or random).sample(list(self.allow_list), count)
                body = dict(body, userIds=chosen)
            self.sent += 1
            return True, body

    def record_created(self, request_id: str, body: dict[str, Any]) -> None:
        # The body may be one the contract rejects, acknowledged by a broken
        # deployment: log what was sent, whatever its shape.
        entry = {
            "requestId": request_id,
            "userIds": body.get("userIds"),
            "RemoveDataFromAllBots": body.get("RemoveDataFromAllBots", False),
            "botIds": body.get("botIds"),
            "body": body,
            "target": self.target.base_url,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with self._lock:
            self.created.append(entry)
            if self.audit_log is not None:
                self.audit_log.parent.mkdir(parents=True, exist_ok=True)
                with self.audit_log.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")
