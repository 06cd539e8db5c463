"""The documentation is self-contained: every link resolves inside the repo, every cited section
exists, and nothing points at notes kept outside it."""

from __future__ import annotations

import argparse
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


def table_rows(heading: str, doc: str = "README.md") -> list[str]:
    """The rows of the first table under `## heading` of `doc`."""
    text = (ROOT / doc).read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|--")]


def serve_flags() -> dict[str, str]:
    """Every flag of `videosync serve`, from its parser, with the first variable it reads."""
    from videosync.settings import build_parser

    parser = build_parser(argparse.ArgumentParser())
    flags = {}
    for action in parser._actions:  # argparse keeps no public list of a parser's options
        long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if long:
            envs = re.findall(r"VIDEOSYNC_[A-Z_]+", action.help or "")
            flags[long[0]] = envs[0] if envs else ""
    return flags


def test_the_parser_is_read_whole() -> None:
    flags = serve_flags()
    assert len(flags) > 40 and flags["--port"] == "VIDEOSYNC_PORT" and "--web-dir" in flags


@pytest.mark.parametrize(("doc", "heading"), [("README.md", "Command line"), ("docs/production.md", "5. Limits to tune")])
def test_every_serve_flag_and_its_variable_is_in_the_flag_table(doc: str, heading: str) -> None:
    rows = {row.split("|")[1].strip().strip("`"): row for row in table_rows(heading, doc)}
    missing = [flag for flag in serve_flags() if flag not in rows]
    assert missing == [], f"flags missing from {doc}'s table: {missing}"
    wrong = [flag for flag, env in serve_flags().items() if env and f"`{env}`" not in rows[flag]]
    assert wrong == [], f"{doc} names another variable for: {wrong}"
    unknown = [flag for flag in rows if flag.startswith("--") and flag not in serve_flags()]
    assert unknown == [], f"{doc} lists flags the server does not have: {unknown}"


def test_every_test_file_the_access_table_names_exists() -> None:
    rows = table_rows("Who may do what")[1:]
    named = [path for row in rows for path in re.findall(r"`(tests/[\w/]+\.py)`", row.split("|")[-2])]
    assert len(named) >= len(rows), "a row names no test file"
    assert [p for p in named if not (ROOT / p).is_file()] == []


@cache
def defined_names() -> frozenset[str]:
    """Names the server and the web app define: functions, classes, methods, attributes, constants
    (Python and JavaScript), and names they import."""
    files = [*(ROOT / "videosync").rglob("*.py"), *(ROOT / "web" / "js").glob("*.js")]
    text = "\n".join(path.read_text() for path in files)
    patterns = [
        r"(?:\bdef|\bclass|\bfunction|\bget)\s+(\w+)",  # def, class, JS function and getter
        r"^\s*(?:async\s+)?(\w+)\s*\([^)\n]*\)\s*\{",  # a JS method
        r"(\w+)\s*(?::[^\n=]*)?=(?!=)",  # an assignment, annotated or not
        r"^\s*(\w+)\s*:",  # a dataclass field
    ]
    names = {name for pattern in patterns for name in re.findall(pattern, text, re.MULTILINE)}
    for line in re.findall(r"^\s*(?:from \S+ )?import\b[^\n]*", text, re.MULTILINE):
        names.update(re.findall(r"\w+", line))
    return frozenset(names)


EXTERNAL = {"asyncio", "http", "tornado"}  # named in the walk, defined elsewhere


def named_functions(doc: Path) -> set[str]:
    """Dotted code names in backticks (`Room.handle`, `commands.change_playback`), not file names."""
    names = set()
    for token in re.findall(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`", doc.read_text()):
        parts = token.split(".")
        if len(parts) > 1 and parts[-1] not in {"py", "js", "md", "html", "json", "sh"}:
            names.add(token)
    return names


def undefined(names: set[str]) -> list[str]:
    """The dotted names whose last part, or any class-like part, nothing defines."""
    known = defined_names()
    return sorted(
        name for name in names if name.split(".")[0] not in EXTERNAL
        and any(part not in known for i, part in enumerate(name.split("."))
                if i == len(name.split(".")) - 1 or part[:1].isupper())
    )


def test_a_renamed_function_is_caught() -> None:
    good = {"commands.change_playback", "SessionStore.offerPlayback", "sqlite.FLUSH_INTERVAL_S", "RoomFeature.on_close"}
    assert undefined(good | {"commands.change_playbak", "Rooom.handle"}) == ["Rooom.handle", "commands.change_playbak"]


def test_every_function_the_architecture_walk_names_exists() -> None:
    names = named_functions(ROOT / "docs" / "architecture.md")
    assert len(names) > 50
    assert undefined(names) == []
