"""The checkout is self-contained: no tracked file reads, or points a reader at, anything outside it.

A fresh clone with nothing beside it must run its own tests, benchmark and CI; a path that leaves the repository
only works on the machine it was written on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]

# Written in two pieces so that this file does not match its own rules.
FORBIDDEN = ("../" + "shared", "/" + "work/")
_SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "data"}

# Path(__file__)[.resolve()] followed by .parent / .parents[N] steps.
_PY_FILE_CHAIN = re.compile(r"__file__\)(?:\.(?:resolve|absolute)\(\))*(?P<chain>(?:\.parents\[\d+\]|\.parent\b)+)")
# os.path.dirname(os.path.dirname(...(__file__)))
_PY_DIRNAME = re.compile(r"(?P<calls>(?:os\.path\.dirname\()+)(?:os\.path\.(?:abspath|realpath)\()?__file__")
# A shell script climbing from its own folder: $(dirname "$0") followed by "/.." steps.
_SH_DIRNAME = re.compile(r"dirname\s+\"?\$(?:0|\{BASH_SOURCE\[0\]\})\"?\)(?P<ups>(?:/\.\.)+)")
# The repository root's parent is outside it by definition.
_ROOT_PARENT = re.compile(r"\b(?:ROOT|root|REPO_ROOT|repo_root)\.parents?\b")


def tracked_files() -> list[str]:
    """The repository's files (relative, POSIX): tracked ones plus new ones not ignored, so a file fails before it
    is committed; where git is unavailable, the working tree minus caches."""
    if shutil.which("git") and (ROOT / ".git").exists():
        command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, check=True).stdout
        return [name for name in out.decode().split("\0") if name]
    return [
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*")
        if path.is_file()
        and not any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts)
    ]


def _levels(chain: str) -> int:
    return sum(int(n) + 1 for n in re.findall(r"parents\[(\d+)\]", chain)) + len(re.findall(r"\.parent\b", chain))


def outside_references(name: str, text: str) -> list[str]:
    """What in `text` (the file `name`, relative to the root) reads or names a path outside the checkout."""
    depth = len(PurePosixPath(name).parts)  # steps up from the file to the repository root
    found = [f"{name}: mentions {needle!r}" for needle in FORBIDDEN if needle in text]
    for match in _PY_FILE_CHAIN.finditer(text):
        if _levels(match["chain"]) > depth:
            found.append(f"{name}: {match[0]!r} goes {_levels(match['chain'])} levels up from a file {depth} deep")
    for match in _PY_DIRNAME.finditer(text):
        if match["calls"].count("dirname(") > depth:
            found.append(f"{name}: {match[0]!r} climbs above the repository root")
    for match in _SH_DIRNAME.finditer(text):
        if 1 + match["ups"].count("/..") > depth:
            found.append(f"{name}: {match[0]!r} climbs above the repository root")
    found += [f"{name}: {match[0]!r} is outside the repository" for match in _ROOT_PARENT.finditer(text)]
    return found


def test_no_tracked_file_reaches_outside_the_checkout() -> None:
    names = tracked_files()
    assert "tests/test_self_contained.py" in names and "tests/fakes/openai_server.py" in names
    problems = []
    for name in names:
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary files, and files deleted but not yet committed
        problems += outside_references(name, text)
    assert problems == []


def _code(snippet: str) -> str:
    # The examples below are written with placeholders so that this file does not match its own rules.
    return snippet.replace("<file>", "__file__").replace("<up>", "..").replace("<root>", "ROOT")


def test_the_checks_catch_each_way_out() -> None:
    # The line tests/fakes/openai_server.py had when only our machines could run the tests.
    old = _code('DEFAULT_SPEC_PATH = Path(<file>).resolve().parents[2].parent / "shared/specs/openai-openapi.json"')
    assert len(outside_references("tests/fakes/openai_server.py", old)) == 1
    assert outside_references("tests/fakes/openai_server.py", _code('Path(<file>).resolve().parents[2] / "x"')) == []
    assert outside_references("tests/x.py", _code("Path(<file>).parent.parent")) == []
    assert len(outside_references("tests/x.py", _code("Path(<file>).parent.parent.parent"))) == 1
    nested = _code("os.path.dirname(os.path.dirname(os.path.dirname(<file>)))")
    assert len(outside_references("tests/x.py", nested)) == 1
    assert len(outside_references(".ci/run", _code('cd "$(dirname "$0")/<up>/<up>"'))) == 1
    assert outside_references(".ci/run", _code('cd "$(dirname "$0")/<up>"')) == []
    assert len(outside_references("bench/x.py", _code("<root>.parent / 'specs'"))) == 1
    assert len(outside_references("README.md", "see " + FORBIDDEN[0] + "/specs/")) == 1
    assert len(outside_references("tests/fakes/x.py", "notes in " + FORBIDDEN[1] + "shared/reference/x.md")) == 1
