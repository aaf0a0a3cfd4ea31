"""requirements.lock, which the Docker image installs from, pins what pyproject asks for, each version with hashes."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REFRESH = "refresh requirements.lock with the command at its top (see the README)"


def parse_lock(text: str) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, hashes), from pip-compile's `name==version \\ --hash=sha256:...` entries."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        requirement, *options = entry.split()
        name, separator, version = requirement.partition("==")
        assert separator and "[" not in name, f"not an exact pin: {requirement!r}"
        hashes = [option.removeprefix("--hash=sha256:") for option in options if option.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), f"{name}: only --hash=sha256 options are expected, got {options}"
        pins[canonicalize_name(name)] = (Version(version), hashes)
    return pins


def runtime_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(line) for line in pyproject["project"]["dependencies"]]


LOCK = parse_lock((ROOT / "requirements.lock").read_text(encoding="utf-8"))


def test_the_lock_parser_reads_pip_compile_entries() -> None:
    text = (
        "# header\nfoo-bar==1.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "baz==3 \\\n    --hash=sha256:cc\n"
    )
    assert parse_lock(text) == {"foo-bar": (Version("1.2"), ["aa", "bb"]), "baz": (Version("3"), ["cc"])}


def test_every_locked_version_has_sha256_hashes() -> None:
    assert LOCK, "requirements.lock pins nothing"
    sha256 = re.compile("[0-9a-f]{64}")
    unhashed = sorted(name for name, (_, found) in LOCK.items() if not found or not all(map(sha256.fullmatch, found)))
    assert unhashed == [], f"pins without sha256 hashes: {unhashed}; {REFRESH}"


def test_the_lock_pins_every_runtime_dependency_within_pyprojects_range() -> None:
    problems = []
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        if name not in LOCK:
            problems.append(f"{requirement.name} is not in the lock")
        elif LOCK[name][0] not in requirement.specifier:
            problems.append(f"{requirement.name}=={LOCK[name][0]} does not satisfy {requirement}")
    assert problems == [], f"{'; '.join(problems)}; {REFRESH}"


def test_the_lock_holds_the_dependencies_of_what_it_pins() -> None:
    # `pip install --no-deps` installs only what the lock names. Requirements are read from the installed packages'
    # metadata, for the packages installed at the locked version (all of them where the lock was installed, as in CI).
    extras = {canonicalize_name(r.name): r.extras for r in runtime_requirements()}
    environment = default_environment()
    problems, checked = [], []
    for name, (version, _) in LOCK.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != version:
            continue
        checked.append(name)
        for line in dist.requires or []:
            needed = Requirement(line)
            wanted = [{**environment, "extra": extra} for extra in extras.get(name, set()) | {""}]
            if needed.marker is not None and not any(needed.marker.evaluate(env) for env in wanted):
                continue
            pin = LOCK.get(canonicalize_name(needed.name))
            if pin is None or pin[0] not in needed.specifier:
                problems.append(f"{name} needs {needed}, the lock has {pin[0] if pin else 'nothing'}")
    assert checked, "no locked version is installed here: pip install -r requirements.lock"
    assert problems == [], f"{'; '.join(problems)}; {REFRESH}"
