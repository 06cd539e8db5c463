"""The code cites only documents and sections that exist in the repo (no team notes from outside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_docs import ROOT, broken_citations

SUFFIXES = {".py", ".js", ".mjs", ".md", ".cfg", ".toml", ".sh"}
CODE = sorted(
    path for top in ("videosync", "web/js", "web/test", "tests", "scripts", ".ci")
    for path in (ROOT / top).rglob("*")
    if path.is_file() and path.suffix in SUFFIXES and "node_modules" not in path.parts
    and path.name not in ("test_docs.py", "test_code_citations.py")  # they name the old forms on purpose
) + [ROOT / "setup.cfg", ROOT / "setup.py"]


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_cites_only_sections_that_exist_in_the_repo(path: Path) -> None:
    text = path.read_text()
    assert "DESIGN.md" not in text and "shared/PROTOCOL" not in text and "../shared/" not in text
    assert broken_citations(text) == []
