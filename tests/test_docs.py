"""The documentation is self-contained: every link resolves inside the repo, every cited section
exists, and nothing points at notes kept outside it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("web/*.md")])
# "go-protocol.md §2.8.7", "[docs/design.md §4](…)", "PROTOCOL.md §3" (also "§0, §5" after one name)
CITATION = re.compile(
    r"(?<![\w/-])((?:docs/)?go-protocol(?:\.md)?|(?:docs/)?design\.md|PROTOCOL\.md)\]?\)?\s*"
    r"§\s*(\d+(?:\.\d+)*)((?:,\s*§\d+(?:\.\d+)*)*)"
)


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(doc: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^#{1,6}\s+(.*)$", doc.read_text(), re.MULTILINE)]


@cache
def sections(doc: Path) -> frozenset[str]:
    """Section numbers of a document's headings, and section.item for the numbered items under
    them (go-protocol.md §2.8.7 is item 7 of §2.8)."""
    found: set[str] = set()
    current = None
    for line in doc.read_text().splitlines():
        if heading := re.match(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", line):
            current = heading.group(1)
            found.add(current)
        elif (item := re.match(r"^(\d+)\.\s", line)) and current:
            found.add(f"{current}.{item.group(1)}")
    return frozenset(found)


def cited_document(name: str) -> Path:
    if "go-protocol" in name:
        return ROOT / "docs" / "go-protocol.md"
    return ROOT / ("docs/design.md" if "design" in name else "PROTOCOL.md")


def broken_citations(text: str) -> list[str]:
    broken = []
    for name, first, more in CITATION.findall(text):
        target = cited_document(name)
        for number in [first, *re.findall(r"§(\d+(?:\.\d+)*)", more)]:
            if number not in sections(target):
                broken.append(f"{target.name} §{number}")
    return broken


def test_a_citation_of_a_missing_section_or_item_is_caught() -> None:
    text = ("go-protocol §2.8.2 and [docs/go-protocol.md §2.9](x), design.md §4, §7; PROTOCOL.md §2.3, "
            "(docs/go-protocol.md §0, §2.8.13)")
    assert broken_citations(text) == ["go-protocol.md §2.9", "design.md §7", "go-protocol.md §2.8.13"]


def test_the_anchors_follow_github_rules() -> None:
    assert github_anchor("2.6 `GET|HEAD /api/video`") == "26-gethead-apivideo"
    assert github_anchor("2.8 Go-A's bugs and quirks (seen)") == "28-go-as-bugs-and-quirks-seen"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading_in_the_repo(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        assert dest.exists(), f"{target}: no such file"
        assert dest.is_relative_to(ROOT), f"{target}: outside the repo"
        if anchor and dest.suffix == ".md":
            assert anchor in {github_anchor(h) for h in headings(dest)}, f"{target}: no such heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_section_exists_and_nothing_outside_the_repo_is_cited(doc: Path) -> None:
    text = doc.read_text()
    assert "../shared" not in text
    assert "DESIGN.md" not in text
    assert broken_citations(text) == []
