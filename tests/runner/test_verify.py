"""`contracts verify` on files made by other tools: a HAR 1.2 export as a
browser's developer tools write it, and files it cannot read (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from contracts.cli import main
from tests.support import CREATE, PRELOADED, STATUS

HOST = "https://staging.example.test"
STATUS_BODY = {"_id": PRELOADED, "createdOn": "2024-05-01T10:00:00.000Z", "lastUpdatedOn": "2024-05-01T10:00:02.000Z",
               "RemoveDataFromAllBots": True, "response": [{"userId": "u-1", "status": "SUCCESS"}]}


def har_entry(method: str, url: str, status: int, answer: Any, posted: Any = None) -> dict[str, Any]:
    """One entry as Chrome's "Save all as HAR" writes it (HTTP/2, pseudo-headers, timings)."""
    text = json.dumps(answer)
    request: dict[str, Any] = {
        "method": method, "url": url, "httpVersion": "http/2.0",
        "headers": [{"name": ":authority", "value": HOST[8:]}, {"name": ":method", "value": method},
                    {"name": "auth", "value": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"},
                    {"name": "accept", "value": "application/json"}],
        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0,
    }
    if posted is not None:
        request["headers"].append({"name": "content-type", "value": "application/json"})
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(posted)}
    return {
        "_initiator": {"type": "script"}, "_priority": "High", "_resourceType": "fetch", "cache": {},
        "pageref": "page_1", "startedDateTime": "2024-05-01T10:00:03.123Z", "time": 87.4,
        "request": request,
        "response": {"status": status, "statusText": "", "httpVersion": "http/2.0",
                     "headers": [{"name": "content-type", "value": "application/json; charset=utf-8"},
                                 {"name": "content-length", "value": str(len(text))}],
                     "cookies": [], "content": {"size": len(text), "mimeType": "application/json", "text": text},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1, "_transferSize": len(text) + 120},
        "serverIPAddress": "203.0.113.7", "connection": "443",
        "timings": {"blocked": 1.2, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1, "wait": 85.0, "receive": 1.1},
    }


def har(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [{"startedDateTime": "2024-05-01T10:00:00.000Z", "id": "page_1", "title": HOST,
                               "pageTimings": {"onContentLoad": -1, "onLoad": -1}}],
                    "entries": list(entries)}}


def verify(tmp_path: Path, document: Any, *extra: str, name: str = "session.har") -> Any:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return CliRunner().invoke(main, ["verify", str(path), *extra])


def test_a_clean_har_export_passes_and_says_what_it_exercised(tmp_path: Path) -> None:
    created = {"requestId": PRELOADED, "status": "in-progress"}
    asked = {"userIds": ["u-1"], "RemoveDataFromAllBots": True}
    result = verify(tmp_path, har(har_entry("DELETE", HOST + CREATE, 200, created, asked),
                                  har_entry("GET", HOST + STATUS.format(PRELOADED), 200, STATUS_BODY)))
    assert result.exit_code == 0, result.output
    assert "(HAR, 2 exchanges)" in result.output and "Result: PASSED (0 violations in 2 exchanges)" in result.output
    assert "UserEraseStatus values: seen SUCCESS; not seen IN_PROGRESS, FAILURE" in result.output


def test_drift_in_a_har_export_names_its_entry_in_every_report(tmp_path: Path) -> None:
    drifted = dict(STATUS_BODY, response=[{"userId": "u-1", "status": "QUEUED"}])
    document = har(har_entry("GET", HOST + STATUS.format(PRELOADED), 200, STATUS_BODY),
                   har_entry("GET", HOST + STATUS.format(PRELOADED), 418, {"error": "teapot"}),
                   har_entry("GET", HOST + STATUS.format(PRELOADED), 200, drifted))
    out = tmp_path / "out"
    result = verify(tmp_path, document, "--junit-xml", str(out / "j.xml"), "--report", str(out / "r.html"))
    assert result.exit_code == 1, result.output
    assert "#2 (entry 2) GET" in result.output and "undocumented-status" in result.output
    assert "#3 (entry 3) GET" in result.output and "#/components/schemas/UserEraseStatus/enum" in result.output
    assert "entry 3" in (out / "r.html").read_text() and "entry 2" in (out / "j.xml").read_text()
    data = json.loads(verify(tmp_path, document, "--json").output)
    assert data["verdict"] == "FAILED" and [v["at"] for v in data["violations"]] == ["entry 2", "entry 3"]
    assert "eyJhbGciOiJIUzI1NiJ9" not in result.output + (out / "r.html").read_text()


def test_a_file_that_is_no_recording_exits_2(tmp_path: Path) -> None:
    for name, text in (("a.jsonl", "not json\n"), ("b.har", '{"log": {"entries": "x"}}'), ("c.jsonl", ""),
                       ("d.jsonl", '{"format": "something-else"}\n')):
        result = verify(tmp_path, text, name=name)
        assert result.exit_code == 2, (name, result.output)
        assert result.output.count("\n") == 1 and name in result.output
    assert CliRunner().invoke(main, ["verify", str(tmp_path / "missing.har")]).exit_code == 2
