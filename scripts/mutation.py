"""Mutation testing of one pure module against only its own unit tests (mutmut).

    python scripts/mutation.py ranges            # videosync/ranges.py vs tests/test_ranges.py
    python scripts/mutation.py ranges --show     # also print each surviving mutant's diff
    python scripts/mutation.py playback --tests tests/test_protocol.py   # other test files

mutmut reads its settings from the working directory and mutates what they name, so each run
gets a scratch copy of the repo with a `[mutmut]` section for that module alone (the repo's own
setup.cfg stays free of per-module settings). Prints the counts per status and the score;
docs/testing.md records the results and which survivors are equivalent mutants.
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
    "server_messages": ["tests/test_protocol.py"],  # the encoders, once part of protocol.py
    "playback": ["tests/test_playback.py"],
    "wsframes": ["tests/test_wsframes.py"],
    "ratelimit": ["tests/test_ratelimit.py"],
}


def scratch_copy(module: str, tests: list[str], root: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__", "e2e", "golden")
    shutil.copytree(REPO / "videosync", root / "videosync", ignore=skip)
    shutil.copytree(REPO / "tests", root / "tests", ignore=skip)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")  # pytest's settings
    selection = "\n    ".join(tests)
    (root / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = videosync\n"
        f"only_mutate = videosync/{module}.py\n"
        f"pytest_add_cli_args_test_selection =\n    {selection}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n"
    )


def run(module: str, tests: list[str], show: bool) -> None:
    with tempfile.TemporaryDirectory(prefix=f"mutmut-{module}-") as tmp:
        root = Path(tmp)
        scratch_copy(module, tests, root)
        # mutmut puts its mutated tree first on sys.path; a PYTHONPATH naming a checkout would
        # shadow it (an editable install's finder comes after sys.path, so it does not)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # its console script, not `python -m mutmut`: run as __main__ it fails to import tests.*
        mutmut = [str(Path(sys.executable).with_name("mutmut"))]

        def call(*args: str) -> str:
            done = subprocess.run([*mutmut, *args], cwd=root, env=env, capture_output=True, text=True)
            return done.stdout

        call("run", "--max-children", "1")  # one core: the machine is shared
        statuses: Counter[str] = Counter()
        survivors = []
        for line in call("results", "--all", "true").splitlines():
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
                print(call("show", name))


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("module", choices=sorted(TESTS))
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--tests", nargs="+", help="test files other than the module's own")
    args = parser.parse_args()
    run(args.module, args.tests or TESTS[args.module], args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
