"""Every output stays well-formed and inert, and keeps every secret out, when the
deployment echoes tokens, a client secret with spaces and punctuation, terminal
controls, XML-illegal characters, backticks and raw HTML into its answers. Each
output is parsed by a real parser: `xml.etree` (JUnit), `html.parser` (HTML), a
CommonMark renderer (`markdown-it-py`, Markdown), and the terminal text is
searched for C0/C1 controls and bidirectional overrides."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
import yaml
from markdown_it import MarkdownIt

from contracts import reporting
from contracts.config import Credentials
from contracts.core.redaction import FRAGMENT, MARK
from contracts.reporting import json_report, markdown, terminal
from mockserver.vendor.fixtures import default_fixtures_path
from tests import deployments
from tests.support import ACME, run_against, run_config

pytestmark = pytest.mark.xdist_group("in-process-runs")
SECRET = "correct horse battery staple! 2024 <&> \"quoted\" | `tick`"
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")


class _Tags(HTMLParser):
    """The start tags and the text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(document: str) -> _Tags:
    parser = _Tags()
    parser.feed(document)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("hostile")
    fixtures = yaml.safe_load(default_fixtures_path().read_text())
    for account in fixtures["accounts"]:
        for app in account["apps"]:
            if app["clientId"] == ACME[0]:
                app["clientSecret"] = SECRET
    (tmp / "fixtures.yaml").write_text(yaml.safe_dump(fixtures))
    app = deployments.EchoesHostileText(deployments.mock(fixtures=str(tmp / "fixtures.yaml")), SECRET)
    junit, page, notes = tmp / "j.xml", tmp / "r.html", tmp / "r.md"
    config = run_config(junit_xml=junit, report=page, credentials=Credentials(ACME[0], SECRET), suites=("auth",))
    report, wire = run_against(app, config)
    reporting.write(report)
    notes.write_text(markdown.render(report))
    tokens = [r.headers["auth"] for r in wire.requests if r.headers.get("auth", "").count(".") == 2]
    return {"report": report, "tokens": tokens, "junit": junit.read_text(), "html": page.read_text(),
            "markdown": notes.read_text(), "terminal": terminal.render(report), "json": json_report.render(report)}


def test_the_run_saw_the_hostile_answers(outputs: dict[str, object]) -> None:
    assert outputs["report"].verdict == "FAILED"  # type: ignore[attr-defined]
    assert "refused token" in str(outputs["terminal"]) and MARK in str(outputs["terminal"])


@pytest.mark.parametrize("name", ["junit", "html", "markdown", "terminal", "json"])
def test_no_secret_and_no_fragment_of_a_token_in_any_output(outputs: dict[str, object], name: str) -> None:
    text = str(outputs[name])
    fragments = {t[i:i + FRAGMENT] for t in outputs["tokens"] for i in range(len(t) - FRAGMENT + 1)}  # type: ignore
    assert fragments and not fragments & {text[i:i + FRAGMENT] for i in range(len(text) - FRAGMENT + 1)}
    assert "correct horse" not in text and "staple" not in text
    assert not UNSAFE.search(text), repr(UNSAFE.search(text))


def test_junit_is_well_formed_and_shows_the_mark(outputs: dict[str, object]) -> None:
    root = ElementTree.fromstring(str(outputs["junit"]).encode())
    failures = " ".join(f.text or "" for f in root.iter("failure"))
    assert MARK in failures and "<img" in failures  # the server's markup, as text
    assert not [element.tag for element in root.iter() if element.tag not in
                ("testsuites", "testsuite", "testcase", "failure", "skipped", "properties", "property")]


def test_html_shows_the_mark_and_no_markup_of_the_server(outputs: dict[str, object]) -> None:
    parsed = _parsed(str(outputs["html"]))
    assert "img" not in parsed.tags and "a" not in parsed.tags
    assert MARK in "".join(parsed.text) and "<img src=x onerror=alert(" in "".join(parsed.text)


def test_markdown_renders_the_server_text_as_text(outputs: dict[str, object]) -> None:
    rendered = MarkdownIt("commonmark").enable("table").render(str(outputs["markdown"]))
    parsed = _parsed(rendered)
    assert "img" not in parsed.tags and "a" not in parsed.tags and "b" not in parsed.tags
    text = "".join(parsed.text)
    assert MARK in text and "``` ` </code> <img src=x onerror=alert(" in text


def test_json_report_parses(outputs: dict[str, object]) -> None:
    assert json.loads(str(outputs["json"]))["target"] == "http://deployment.test"
