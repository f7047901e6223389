"""No credential reaches the journal, its state file or the log, wherever a client put it:
in the query, the path, a header such as `Referer`, or as a token whose header is spaced
unlike PyJWT's (`eyAi...`). Real processes, a real SQLite file, the access log at debug."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import jwt

from mockserver import MockServer

ADMIN_TOKEN = "admin-0123456789abcdef-TOKEN"


def _spaced_token(secret: str, client_id: str) -> str:
    """A JWT signed the vendor's way whose header is `{ "alg": ... }` with spaces: `eyAi...`."""
    header = base64.urlsafe_b64encode(b'{ "alg": "HS256", "typ": "JWT" }').rstrip(b"=").decode()
    signed = jwt.encode({"sub": "x", "appId": client_id}, secret, algorithm="HS256")
    payload = signed.split(".")[1]
    signature = jwt.api_jws.PyJWS()._algorithms["HS256"].sign(f"{header}.{payload}".encode(), secret.encode())
    return f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_credentials_stay_out_of_the_journal_the_state_file_and_the_access_log(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with MockServer(state=state, extra_args=["--admin-token", ADMIN_TOKEN, "--log-level", "debug"]) as server:
        app = server.app()
        token, spaced = server.token(), _spaced_token(app.client_secret, app.client_id)
        assert spaced.startswith("eyAi")
        status_path = "/api/public/bot/eraseUsersData/status/eud-00000000-0000-4000-8000-000000000000"
        accepted = server.http.get(status_path, headers={"auth": spaced})
        assert accepted.status_code == 404, accepted.text  # a valid token: the id is unknown
        server.http.get(status_path, params={"token": ADMIN_TOKEN}, headers={"auth": token})
        server.http.get(f"/api/public/bot/eraseUsersData/status/{token}", headers={"auth": token})
        server.http.get("/logo.png", headers={"referer": f"{server.base_url}/__mockserver/ui/?token={ADMIN_TOKEN}",
                                             "x-debug": f"sent {spaced} and {app.client_secret}"})
        entries = server.journal()
        assert len(entries) == 4
        server.stop()
    with sqlite3.connect(state) as db:
        rows = json.dumps([[str(value) for value in row] for row in db.execute("SELECT * FROM journal")])
    journal = json.dumps(entries) + rows
    files = state.read_bytes().decode("latin-1") + "".join(server.output)
    wal = state.with_name(state.name + "-wal")
    if wal.exists():
        files += wal.read_bytes().decode("latin-1")
    tokens = (ADMIN_TOKEN, token, spaced, token.split(".")[1], spaced.split(".")[2])
    assert [secret for secret in (*tokens, app.client_secret) if secret in journal] == []
    # The state file holds the fixtures (client secrets included), never a token or the admin token.
    assert [secret for secret in tokens if secret in files] == []
    assert "<token>" in journal and "<secret>" in journal
    assert "?token=<secret> HTTP/1.1" in "".join(server.output)  # the access log was written, scrubbed
