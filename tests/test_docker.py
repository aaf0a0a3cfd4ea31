"""What the container sees: the Dockerfile's runtime stage plus `docker run --env-file` from `.env.example`.

Docker itself is not available where the tests run, so this resolves the container's settings the way Docker and
the bot would: the image's ENV, then the env file's lines (an empty `NAME=` line sets an empty variable), then
the bot's own loading. The database and the health file must land on a declared volume.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

from bot.settings import Settings, load_environment
from tests.bot.test_main import ROOT


def runtime_stage() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines[last_from:]]


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in stage:
        if instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def env_file(text: str) -> dict[str, str]:
    """`docker run --env-file`: NAME=VALUE per line, taken literally; blank lines and # comments skipped."""
    env = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value
    return env


def container_settings() -> tuple[Settings, PurePosixPath, list[PurePosixPath]]:
    stage = runtime_stage()
    workdir = PurePosixPath([args for instruction, args in stage if instruction == "WORKDIR"][-1])
    volumes = [PurePosixPath(v) for instruction, args in stage if instruction == "VOLUME"
               for v in re.findall(r'"([^"]+)"', args)]
    example = (ROOT / ".env.example").read_text()
    example = example.replace("\nDISCORD_TOKEN=\n", "\nDISCORD_TOKEN=t\n").replace(
        "\nOPENAI_API_KEY=\n", "\nOPENAI_API_KEY=sk-x\n"
    )
    environ = {**image_env(stage), **env_file(example)}
    load_environment(ROOT / "no-such-dotenv-in-the-image", environ)
    return Settings.from_env(environ), workdir, volumes


def on_a_volume(path: PurePosixPath, volumes: list[PurePosixPath]) -> bool:
    return any(path.is_relative_to(volume) for volume in volumes)


def test_database_and_health_file_land_on_the_volume() -> None:
    settings, workdir, volumes = container_settings()
    assert volumes, "the image declares no VOLUME"
    database = workdir / PurePosixPath(settings.database_path)
    assert on_a_volume(database, volumes), f"{database} is not on a volume {volumes}"
    health = workdir / PurePosixPath(settings.health_file)
    assert on_a_volume(health, volumes), f"{health} is not on a volume {volumes}"


def test_health_check_is_meaningful_without_metrics_port() -> None:
    settings, _, _ = container_settings()
    stage = runtime_stage()
    assert '"python", "-m", "bot", "health"' in next(args for i, args in stage if i == "HEALTHCHECK")
    # With the shipped example METRICS_PORT is unset, so the probe reads the health file (tests/bot/test_process.py
    # shows that file reports a running bot healthy and a stopped one unhealthy).
    assert settings.metrics_port is None


def test_the_readmes_docker_run_mounts_the_volume_the_database_uses() -> None:
    _, _, volumes = container_settings()
    readme = (ROOT / "README.md").read_text()
    runs = [line for line in readme.splitlines() if line.startswith("docker run -d")]
    assert runs, "README has no `docker run -d` line"
    for run in runs:
        mounts = [PurePosixPath(m.split(":")[1]) for m in re.findall(r"-v (\S+)", run)]
        assert set(mounts) & set(volumes), f"{run!r} mounts {mounts}, the image's volumes are {volumes}"


def test_the_data_folder_belongs_to_the_runtime_user() -> None:
    stage = runtime_stage()
    user = next(args for instruction, args in stage if instruction == "USER")
    _, _, volumes = container_settings()
    setup = " ".join(args for instruction, args in stage if instruction == "RUN")
    for volume in volumes:
        assert f"mkdir -p {volume}" in setup and f"chown {user} {volume}" in setup


def test_the_builder_copies_every_file_the_package_build_reads() -> None:
    import tomllib

    text = (ROOT / "Dockerfile").read_text()
    copied = {name for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line
              for name in line.split()[1:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml", project["readme"], *project["license-files"], "requirements.lock", "bot", "cogs"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not needed & ignored, f".dockerignore hides {sorted(needed & ignored)}"
