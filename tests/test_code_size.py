"""No module of the server grows past ~300 lines and no class past ~200 (the architecture rule of
issue #16): a file or class beyond the limits below is a sign it does more than one job."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "videosync"
MAX_MODULE_LINES = 320
MAX_CLASS_LINES = 220

# Modules allowed over the limits, each with the reason; none today.
ALLOWED: set[str] = set()


def sizes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Lines per module and per class (`module.py:Class`, nested ones as `Outer.Inner`)."""
    modules: dict[str, int] = {}
    classes: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root.parent).as_posix()
        text = path.read_text()
        modules[name] = len(text.splitlines())
        classes.update(class_sizes(ast.parse(text), f"{name}:"))
    return modules, classes


def class_sizes(node: ast.AST, prefix: str) -> dict[str, int]:
    found = {}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            assert child.end_lineno is not None
            found[prefix + child.name] = child.end_lineno - child.lineno + 1
            found.update(class_sizes(child, f"{prefix}{child.name}."))
        else:
            found.update(class_sizes(child, prefix))
    return found


def offenders(root: Path, allowed: set[str]) -> list[str]:
    modules, classes = sizes(root)
    found = [f"{name}: {n} lines (module limit {MAX_MODULE_LINES})"
             for name, n in modules.items() if n > MAX_MODULE_LINES and name not in allowed]
    found += [f"{name}: {n} lines (class limit {MAX_CLASS_LINES})"
              for name, n in classes.items() if n > MAX_CLASS_LINES and name.split(":")[0] not in allowed]
    return found


def test_no_module_or_class_of_the_server_is_over_the_size_limits() -> None:
    assert offenders(PACKAGE, ALLOWED) == []


def test_an_oversized_module_or_class_is_named(tmp_path: Path) -> None:
    package = tmp_path / "videosync"
    (package / "store").mkdir(parents=True)
    methods = "".join(f"    def m{n}(self) -> None:\n        pass\n\n" for n in range(120))
    (package / "big.py").write_text("class Big:\n" + methods)  # a 361-line class in a 361-line module
    (package / "small.py").write_text("class Small:\n    pass\n")
    (package / "store" / "allowed.py").write_text("x = 1\n" * 400)
    assert offenders(tmp_path / "videosync", {"videosync/store/allowed.py"}) == [
        "videosync/big.py: 361 lines (module limit 320)",
        "videosync/big.py:Big: 360 lines (class limit 220)",
    ]
