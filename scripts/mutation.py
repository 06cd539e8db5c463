"""Mutation testing of one pure module against only its own unit tests (mutmut).

    python scripts/mutation.py ranges            # videosync/ranges.py vs tests/test_ranges.py
    python scripts/mutation.py ranges --show     # also print each surviving mutant's diff

mutmut reads its settings from the working directory and mutates what they name, so each run
gets a scratch copy of the repo with a `[mutmut]` section for that module alone (the repo's own
setup.cfg stays free of per-module settings). Prints killed / survived / other counts and the score; docs/testing.md records the results.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# module -> its own unit tests
TESTS = {
    "ranges": ["tests/test_ranges.py"],
    "state": ["tests/test_state.py"],
    "protocol": ["tests/test_protocol.py"],
    "playback": ["tests/test_playback.py"],
    "wsframes": ["tests/test_wsframes.py"],
    "ratelimit": ["tests/test_ratelimit.py"],
}


def scratch_copy(module: str, root: Path) -> None:
    shutil.copytree(REPO / "videosync", root / "videosync", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__", "e2e", "golden"))
    pyproject = (REPO / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(pyproject)
    tests = "\n    ".join(TESTS[module])
    (root / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = videosync\n"
        f"only_mutate = videosync/{module}.py\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n"
    )


def run(module: str, show: bool) -> int:
    with tempfile.TemporaryDirectory(prefix=f"mutmut-{module}-") as tmp:
        root = Path(tmp)
        scratch_copy(module, root)
        # mutmut puts its mutated tree first on sys.path; a PYTHONPATH naming a checkout would
        # shadow it (an editable install's finder comes after sys.path, so it does not)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # its console script, not `python -m mutmut`: run as __main__ it fails to import tests.*
        mutmut = [str(Path(sys.executable).with_name("mutmut"))]
        subprocess.run([*mutmut, "run", "--max-children", "1"], cwd=root, env=env, check=False,
                       stdout=subprocess.DEVNULL)
        listing = subprocess.run(
            [*mutmut, "results", "--all", "true"], cwd=root, env=env, capture_output=True, text=True, check=True
        ).stdout
        statuses = Counter()
        survivors = []
        for line in listing.splitlines():
            match = re.match(r"\s*(\S+): (.+)$", line)
            if match:
                statuses[match.group(2)] += 1
                if match.group(2) == "survived":
                    survivors.append(match.group(1))
        total = sum(statuses.values())
        killed = statuses["killed"] + statuses["timeout"]
        print(f"{module}: {total} mutants, {dict(statuses)}")
        if total:
            print(f"{module}: score {100.0 * killed / total:.1f} % ({killed}/{total} killed)")
        for name in survivors:
            print(f"survived: {name}")
            if show:
                diff = subprocess.run([*mutmut, "show", name], cwd=root, env=env, capture_output=True, text=True)
                print(diff.stdout)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", choices=sorted(TESTS))
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    args = parser.parse_args()
    return run(args.module, args.show)


if __name__ == "__main__":
    sys.exit(main())
