"""`mockserver proxy`: a validating proxy in front of a real deployment (or a
mock), for checking the traffic a team's own tests already send against the
contract, with no call of its own.

The layer sits above `wire` (it reuses the HTTP/1.1 hardening) and below
`testing` (`MockProxy` starts one): `settings` (what a proxy is told),
`upstream` (the httpx side: timeouts, a body limit, headers forwarded as
sent), `exchanges` (one exchange judged by `contracts.core.conformance`,
redacted, journaled and recorded), `recording` (the JSON-lines file of
`--record`), `control` (the journal's part of the control API, and the
inspector page), `app` (the ASGI application), `server` (`serve_proxy`).

Like the rest of `mockserver`, it imports only `contracts.core`: the
judging of one exchange lives there, shared with `contracts verify`.
"""
