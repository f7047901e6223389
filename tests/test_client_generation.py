"""A client generated from the bundled contract imports and reads well."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from contracts.cli import main
from mockserver import MockServer


def test_openapi_python_client_generates_a_usable_client(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["spec", "bundle", "--out", str(tmp_path / "dist")])
    assert result.exit_code == 0, result.output
    generated = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", str(tmp_path / "dist" / "openapi.json"),
            "--meta", "none",
            "--output-path", str(tmp_path / "kore_erase_client"),
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Unable to parse" not in generated.stdout + generated.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        api = importlib.import_module("kore_erase_client.api.erase_users_data")
        create = importlib.import_module(api.__name__ + ".create_erase_request")
        status = importlib.import_module(api.__name__ + ".get_erase_request_status")
        models = importlib.import_module("kore_erase_client.models")
        client_mod = importlib.import_module("kore_erase_client")
    finally:
        sys.path.remove(str(tmp_path))
    for module in (create, status):
        for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            assert callable(getattr(module, name))
    assert hasattr(client_mod, "Client")

    body = models.EraseRequest(user_ids=["u-1"], remove_data_from_all_bots=True)
    assert body.to_dict() == {"userIds": ["u-1"], "RemoveDataFromAllBots": True}
    parsed = models.EraseRequestStatus.from_dict(
        {
            "_id": "eud-6f1c2e0a-3b7d-4c5e-9a8b-1d2e3f4a5b6c",
            "createdOn": "2019-09-26T08:42:53.552Z",
            "lastUpdatedOn": "2019-09-26T08:42:53.972Z",
            "RemoveDataFromAllBots": True,
            "response": [{"userId": "u-1", "status": "FAILURE", "reason": "bot owner"}],
        }
    )
    assert parsed.response[0].status == models.UserEraseStatus.FAILURE
    assert parsed.created_on.year == 2019

    # The generated client talks to the live mock: the raw JWT in `auth`, DELETE with a body.
    with MockServer(clock="manual") as server:
        api = client_mod.AuthenticatedClient(
            base_url=server.base_url, token=server.token(), auth_header_name="auth", prefix=""
        )
        accepted = create.sync(client=api, body=models.EraseRequest(user_ids=["u-1"], remove_data_from_all_bots=True))
        assert isinstance(accepted, models.EraseRequestAccepted)
        server.advance(5)
        read = status.sync(client=api, req_id=accepted.request_id)
        assert isinstance(read, models.EraseRequestStatus)
        assert read.field_id == accepted.request_id
        assert read.response[0].status == models.UserEraseStatus.SUCCESS
        missing = status.sync_detailed(client=api, req_id="eud-00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)
