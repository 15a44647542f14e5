""".drone.yml: official images pinned by digest, secrets only where needed, staging by digest and prod promoted,
the unit step has what the unit tests need, and the deploy steps' own commands deploy (run as Drone runs them)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .deploy_env import CLIENT_ID, CLIENT_SECRET, ROOT, TOKEN
from .drone import deploy_step_env, pipelines, step, steps, substitute
from .fake_jobs_api import FakeJobsApi

OFFICIAL = re.compile(r"^(python|docker|plugins/[a-z0-9-]+|drone/[a-z0-9-]+)(:[\w.\-]+)?@sha256:[0-9a-f]{64}$")
CREDENTIALS = ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CLIENT_ID", "DATABRICKS_HOST",
               "DOCKER_PASSWORD", "DOCKER_USERNAME", "IMAGE_REGISTRY", "KAFKA_SASL_USERNAME")


def commands() -> list[str]:
    return [cmd for _, s in steps() for cmd in s.get("commands", [])]


def makefile_targets() -> set[str]:
    """Targets defined in the root Makefile and the fragments it includes (statically: no make run needed)."""
    targets: set[str] = set()
    pending, seen = [ROOT / "Makefile"], set()
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for line in path.read_text().splitlines():
            if include := re.match(r"^-?include\s+(.+)$", line):
                pending.extend(ROOT / p for p in include.group(1).split() if "$" not in p)
            elif rule := re.match(r"^([A-Za-z0-9_.\-][A-Za-z0-9_.\- ]*?)\s*::?(?![=:])", line):
                targets.update(rule.group(1).split())
    return targets


def make_targets_referenced() -> list[str]:
    targets: set[str] = set()
    for cmd in commands():
        for match in re.finditer(r"(?:^|[;&|]\s*)make\s+([^;&|]*)", cmd):
            targets.update(w for w in shlex.split(match.group(1)) if "=" not in w and not w.startswith("-"))
    return sorted(targets)


def test_drone_every_referenced_script_exists_and_is_executable() -> None:
    scripts = {w for cmd in commands() for w in shlex.split(cmd.split("=", 1)[-1]) if w.endswith(".sh") and "/" in w}
    assert scripts == {"deploy/databricks/deploy-job.sh"}
    for script in scripts:
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"


@pytest.mark.parametrize("target", make_targets_referenced())
def test_drone_make_target_exists(target: str) -> None:
    assert target in makefile_targets(), f"`make {target}` is called by .drone.yml but no Makefile defines it"


def test_drone_uses_only_official_images_pinned_by_digest() -> None:
    for pipeline, s in steps():
        assert OFFICIAL.match(s["image"]), f"{pipeline}/{s['name']}: {s['image']} is not an official pinned image"


def test_drone_credentials_come_from_secrets_and_only_where_needed() -> None:
    for pipeline, s in steps():
        env = s.get("environment", {})
        for var in CREDENTIALS:
            if var in env:
                assert isinstance(env[var], dict) and "from_secret" in env[var], f"{s['name']}: {var}"
        secrets = {v["from_secret"] for v in [*env.values(), *s.get("settings", {}).values()] if isinstance(v, dict)}
        if any(name.startswith(("stage_databricks", "prod_databricks")) for name in secrets):
            assert s["name"] in ("deploy-stage", "deploy-prod"), f"{pipeline}/{s['name']} gets Databricks secrets"
        if "DATABRICKS_CLIENT_SECRET" in env:
            assert "DOCKER_PASSWORD" not in env  # the deploy never sees push credentials
        plain = [v for v in env.values() if isinstance(v, str) and "{{secrets/" in v]
        assert all(re.fullmatch(r"\{\{secrets/[\w.\-]+/[\w.\-]+\}\}", v) for v in plain)


def test_drone_stages_by_digest_and_promotes_the_same_image_to_production() -> None:
    main, promote = pipelines()["ner-streaming"], pipelines()["promote-production"]
    assert promote["trigger"] == {"event": ["promote"], "target": ["production"]}
    assert "promote" not in main["trigger"]["event"]
    assert not any("make image" in c for s in promote["steps"] for c in s.get("commands", []))  # never a rebuild
    assert step("deploy-stage")["when"] == step("image-stage")["when"] == {"event": ["push"], "branch": ["main"]}
    pushed = " ".join(step("image-stage")["commands"])
    resolved = " ".join(step("resolve-image")["commands"])
    assert 'IMAGE_TAG="${DRONE_COMMIT_SHA}"' in pushed and ":${DRONE_COMMIT_SHA}" in resolved
    for name in ("image-stage", "resolve-image"):
        assert step(name)["commands"][-1].endswith("> .image-digest")
    for name in ("deploy-stage", "deploy-prod"):
        assert step(name)["commands"][-1] == 'IMAGE_DIGEST="$(cat .image-digest)" deploy/databricks/deploy-job.sh'
    assert [s["name"] for s in promote["steps"]] == ["resolve-image", "deploy-prod", "notify"]


def test_drone_unit_step_installs_what_the_dockerfile_test_stage_has() -> None:
    """`make test-unit` runs in the Dockerfile's test stage too: the CI step needs the same system packages."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    wanted = {p for m in re.finditer(r"apt-get install -y --no-install-recommends ([a-z0-9.+\- ]+)", dockerfile)
              for p in m.group(1).split() if p != "maven"}  # maven: the jars stage, not the tests
    (install,) = [c for c in step("lint-and-unit-tests")["commands"] if "apt-get install" in c]

    assert {"openjdk-17-jre-headless", "jq", "prometheus"} <= wanted <= set(install.split())
    assert step("lint-and-unit-tests")["commands"][1:] == ["make lint", "make test-unit"]


@pytest.fixture(scope="module")
def step_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bare Python 3.11 with pip, like the deploy steps' python image: the step's own pip install fills it."""
    venv = tmp_path_factory.mktemp("step-python")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    yield venv / "bin"


@pytest.mark.parametrize("name", ["deploy-stage", "deploy-prod"])
def test_drone_deploy_step_commands_deploy_against_the_fake_api(name: str, step_python: Path, tmp_path: Path) -> None:
    """Each command of the step, in order, in one `sh -e` as Drone's docker runner does, in a workspace holding the
    repository's deploy/ and the digest file the previous step wrote, with the step's environment."""
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "deploy" / "databricks", workspace / "deploy" / "databricks")
    digest = "sha256:" + "ab" * 32
    (workspace / ".image-digest").write_text(digest + "\n")
    with FakeJobsApi(TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        api.pending_polls = 0
        env = deploy_step_env(name, tmp_path, DATABRICKS_HOST=api.url, DATABRICKS_CLIENT_ID=CLIENT_ID,
                              DATABRICKS_CLIENT_SECRET=CLIENT_SECRET)
        env["PATH"] = f"{step_python}:{env['PATH']}"
        script = "set -e\n" + "\n".join(substitute(c) for c in step(name)["commands"])
        result = subprocess.run(["sh", "-c", script], cwd=workspace, env=env, capture_output=True, text=True,
                                timeout=300, check=False)

        assert CLIENT_SECRET not in result.stdout + result.stderr
        assert result.returncode == 0, result.stderr[-3000:]
        ((job_id, settings),) = api.jobs.items()
        assert settings["name"] == step(name)["environment"]["JOB_NAME"]
        assert settings["tasks"][0]["new_cluster"]["docker_image"] == {
            "url": f"registry.example/ml/ner-streaming@{digest}"}
        assert [r["state"] for r in api.active_runs(job_id)] == ["RUNNING"]
