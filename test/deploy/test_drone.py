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

from test.helpers.deploy_env import CLIENT_ID, CLIENT_SECRET, ROOT, TOKEN, Pushgateway
from test.helpers.drone import deploy_step_env, pipelines, step, steps, substitute
from test.helpers.fake_jobs_api import FakeJobsApi

OFFICIAL = re.compile(r"^(python|docker|plugins/[a-z0-9-]+|drone/[a-z0-9-]+)(:[\w.\-]+)?@sha256:[0-9a-f]{64}$")
CREDENTIALS = (
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_HOST",
    "DOCKER_PASSWORD",
    "DOCKER_USERNAME",
    "IMAGE_REGISTRY",
    "KAFKA_SASL_USERNAME",
)


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
            assert s["name"] in ("deploy-stage", "deploy-prod", "check-staged"), f"{pipeline}/{s['name']}"
        if "DATABRICKS_CLIENT_SECRET" in env:
            assert "DOCKER_PASSWORD" not in env  # the deploy never sees push credentials
        plain = [v for v in env.values() if isinstance(v, str) and "{{secrets/" in v]
        assert all(re.fullmatch(r"\{\{secrets/[\w.\-]+/[\w.\-]+\}\}", v) for v in plain)


def test_drone_stages_the_pushed_digest_and_promotes_it_as_a_parameter() -> None:
    main, promote = pipelines()["ner-streaming"], pipelines()["promote-production"]
    assert promote["trigger"] == {"event": ["promote"], "target": ["production"]}
    assert "promote" not in main["trigger"]["event"]
    assert not any("make image" in c for s in promote["steps"] for c in s.get("commands", []))  # never a rebuild
    assert step("deploy-stage")["when"] == step("image-stage")["when"] == {"event": ["push"], "branch": ["main"]}
    # The digest is the push's own output, never read back from the (mutable) tag.
    assert step("image-stage")["commands"][-1].endswith("IMAGE_DIGEST_FILE=.image-digest")
    assert not any(w in c for c in commands() for w in ("docker inspect", "docker pull", "RepoDigests", "$(cat"))
    assert step("deploy-stage")["environment"]["IMAGE_DIGEST_FILE"] == ".image-digest"
    assert "IMAGE_DIGEST" not in step("deploy-prod")["environment"]  # the promote parameter
    assert step("check-staged")["commands"][-1] == "deploy/databricks/deploy-job.sh --verify-staged"
    assert step("check-staged")["environment"]["APP_ENV"] == "staging"
    assert [s["name"] for s in promote["steps"]] == ["check-staged", "deploy-prod", "notify"]


def test_drone_serialises_deploys_and_runs_the_integration_tests() -> None:
    for name, pipeline in pipelines().items():
        assert pipeline["concurrency"] == {"limit": 1}, name
    assert step("integration-tests")["commands"][-1] == "make test"


def test_drone_unit_step_installs_what_the_dockerfile_test_stage_has() -> None:
    """`make test-unit` runs in the Dockerfile's test stage too: the CI step needs the same system packages."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    wanted = {
        p
        for m in re.finditer(r"apt-get install -y --no-install-recommends ([a-z0-9.+\- ]+)", dockerfile)
        for p in m.group(1).split()
        if p != "maven"
    }  # maven: the jars stage, not the tests
    (install,) = [c for c in step("lint-and-unit-tests")["commands"] if "apt-get install" in c]

    assert {"openjdk-17-jre-headless", "jq", "prometheus"} <= wanted <= set(install.split())
    assert step("lint-and-unit-tests")["commands"][1:] == ["make lint", "make test-unit"]


@pytest.fixture(scope="module")
def step_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bare Python 3.11 with pip, like the deploy steps' python image: the step's own pip install fills it."""
    venv = tmp_path_factory.mktemp("step-python")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    yield venv / "bin"


def run_step(name: str, api: FakeJobsApi, gateway: Pushgateway, python: Path, tmp: Path, digest: str) -> str:
    """Each command of the step, in order, in one `sh -e` as Drone's docker runner does, in a workspace holding the
    repository's deploy/databricks and app/ (the deploy's settings are declared with app/settings_fields.py) and the
    digest file the push wrote, with the step's environment (and, for the promote pipeline, the IMAGE_DIGEST
    parameter). Returns stderr; fails unless the step succeeds."""
    workspace = tmp / "workspace"
    if not workspace.exists():
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "deploy" / "databricks", workspace / "deploy" / "databricks", ignore=skip)
        shutil.copytree(ROOT / "app", workspace / "app", ignore=skip)
    (workspace / ".image-digest").write_text(digest + "\n")
    env = deploy_step_env(
        name,
        tmp,
        image_digest="" if name == "deploy-stage" else digest,
        DATABRICKS_HOST=api.url,
        DATABRICKS_CLIENT_ID=CLIENT_ID,
        DATABRICKS_CLIENT_SECRET=CLIENT_SECRET,
        PUSHGATEWAY_URL="https://pushgateway.example",
    )
    env["DEPLOY_PUSHGATEWAY_URL"] = gateway.url  # the deploy's way to it; the job's is PUSHGATEWAY_URL
    env |= {"PATH": f"{python}:{env['PATH']}", "DEPLOY_HEALTH_SECONDS": "0.5", "DEPLOY_POLL_SECONDS": "0.05"}
    script = "set -e\n" + "\n".join(substitute(c) for c in step(name)["commands"])
    result = subprocess.run(
        ["sh", "-c", script], cwd=workspace, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert CLIENT_SECRET not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeJobsApi, Pushgateway]]:
    gateway = Pushgateway(tmp_path)
    with FakeJobsApi(TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        api.pending_polls = 0
        api.on_running = lambda run: gateway.push_batch(run["settings"]["name"])
        yield api, gateway
    gateway.close()


@pytest.mark.parametrize("name", ["deploy-stage", "deploy-prod"])
def test_drone_deploy_step_commands_deploy_against_the_fake_api(
    name: str, fake: tuple[FakeJobsApi, Pushgateway], step_python: Path, tmp_path: Path
) -> None:
    api, gateway = fake
    digest = "sha256:" + "ab" * 32

    run_step(name, api, gateway, step_python, tmp_path, digest)

    ((job_id, settings),) = api.jobs.items()
    assert settings["name"] == step(name)["environment"]["JOB_NAME"]
    assert settings["tasks"][0]["new_cluster"]["docker_image"] == {"url": f"registry.example/ml/ner-streaming@{digest}"}
    assert settings["tags"]["healthy_digest"] == digest
    assert [r["state"] for r in api.active_runs(job_id)] == ["RUNNING"]


def test_drone_promotes_only_a_digest_staging_proved_healthy(
    fake: tuple[FakeJobsApi, Pushgateway], step_python: Path, tmp_path: Path
) -> None:
    api, gateway = fake
    staged, other = "sha256:" + "ab" * 32, "sha256:" + "cd" * 32
    run_step("deploy-stage", api, gateway, step_python, tmp_path, staged)

    assert "is the healthy_digest of job" in run_step("check-staged", api, gateway, step_python, tmp_path, staged)
    with pytest.raises(AssertionError, match="did not prove healthy"):
        run_step("check-staged", api, gateway, step_python, tmp_path, other)
