"""The rate limit at the door: after a call is authenticated (its account is
known), before its body is read. A call over its account's limit gets the
platform's answer (`x-error-answers`: `429`, the documented message) with
`Retry-After`, and its journal entry says so (`rateLimited`)."""

from __future__ import annotations

from starlette.types import Send

from contracts.core.platform import Refusal
from mockserver.common.error_body import send_answer
from mockserver.vendor.rate_limit import Window
from mockserver.vendor.request_context import RequestContext
from mockserver.vendor.runtime import Runtime


async def over_limit(runtime: Runtime, account_id: str, context: RequestContext, send: Send) -> bool:
    """True when the call was over the limit and has been answered."""
    refused = await runtime.rate_limiter.admit(account_id, runtime.now_ms())
    if refused is None:
        return False
    context.rate_limited = refused.public()
    limit = refused.limit.per_minute if refused.window is Window.MINUTE else refused.limit.per_hour
    detail = f"account {account_id!r}: {limit} calls in the last {refused.window.value}"
    await send_answer(send, runtime.vocabulary.answer(Refusal.RATE_LIMITED), detail,
                      {"Retry-After": str(refused.retry_after)})
    return True
