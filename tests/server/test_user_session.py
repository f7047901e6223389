"""What a user's own pytest session shows when it uses the mock: their tests' output,
not warnings about the libraries the mock is built on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TESTS = '''
from mockserver import MockApp


def test_with_the_plugin(mockserver):
    assert mockserver.health()["status"] == "ok"


def test_in_process():
    with MockApp() as mock:
        assert mock.ready()
'''


def test_a_users_session_shows_no_third_party_warnings(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "default",
                             str(tmp_path / "test_user.py")], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "warning" not in result.stdout.lower(), result.stdout
