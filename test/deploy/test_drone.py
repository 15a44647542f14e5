""".drone.yml: the scripts and make targets it calls exist, and its stage deploy step deploys (against the fake API)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from .fake_jobs_api import FakeJobsApi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dapi-drone-test-5e4d3c2b1a09f8e7"
# What Drone substitutes for ${DRONE_...} before running a step, for a push to main.
DRONE_VARS = {"DRONE_BRANCH": "main", "DRONE_TAG": "", "DRONE_COMMIT_SHA": "0" * 40, "DRONE_BUILD_NUMBER": "1"}


def pipeline_steps() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((ROOT / ".drone.yml").read_text()) if d and d.get("kind") == "pipeline"]
    return {step["name"]: step for doc in docs for step in doc["steps"]}


def commands() -> list[str]:
    return [cmd for step in pipeline_steps().values() for cmd in step.get("commands", [])]


def make_targets_referenced() -> list[str]:
    targets: set[str] = set()
    for cmd in commands():
        for match in re.finditer(r"(?:^|[;&|]\s*)make\s+([^;&|]*)", cmd):
            targets.update(w for w in shlex.split(match.group(1)) if "=" not in w and not w.startswith("-"))
    return sorted(targets)


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


def drone_substitute(value: str) -> str:
    """Drone's substitution: ${DRONE_X} becomes the build's value, $$ a literal $."""
    value = re.sub(r"(?<!\$)\$\{(DRONE_[A-Z_]+)\}", lambda m: DRONE_VARS[m.group(1)], value)
    return value.replace("$$", "$")


def test_drone_every_referenced_script_exists_and_is_executable() -> None:
    scripts = [w for cmd in commands() for w in shlex.split(cmd) if "/" in w and w.endswith(".sh")]
    assert scripts, "expected the deploy steps to call deploy/databricks/deploy-job.sh"
    for script in scripts:
        path = ROOT / script
        assert path.is_file(), f"{script} does not exist"
        assert os.access(path, os.X_OK), f"{script} is not executable"


def test_drone_calls_the_expected_make_targets() -> None:
    assert set(make_targets_referenced()) == {"lint", "test-unit", "image", "image-push"}


@pytest.mark.parametrize("target", make_targets_referenced())
def test_drone_make_target_exists(target: str) -> None:
    assert target in makefile_targets(), f"`make {target}` is called by .drone.yml but no Makefile defines it"


def test_drone_tags_and_deploys_per_branch_and_tag() -> None:
    steps = pipeline_steps()
    assert steps["image-dev"]["when"] == {"event": ["push"], "branch": {"exclude": ["main"]}}
    assert "IMAGE_TAG=dev" in " ".join(steps["image-dev"]["commands"])
    for name in ("image-stage", "deploy-stage"):
        assert steps[name]["when"] == {"event": ["push"], "branch": ["main"]}
    for name in ("image-prod", "deploy-prod"):
        assert steps[name]["when"] == {"event": ["tag"]}
    assert 'IMAGE_TAG="${DRONE_TAG}"' in " ".join(steps["image-prod"]["commands"])
    assert steps["deploy-prod"]["environment"]["IMAGE_TAG"] == "${DRONE_TAG}"
    assert steps["notify"]["when"]["status"] == ["success", "failure"]


def test_drone_secrets_come_from_drone_secrets() -> None:
    for name, step in pipeline_steps().items():
        env = step.get("environment", {})
        for var in ("DATABRICKS_TOKEN", "DATABRICKS_HOST", "DOCKER_PASSWORD"):
            if var in env:
                assert isinstance(env[var], dict) and "from_secret" in env[var], f"{name}: {var} must be a secret"


def test_drone_stage_deploy_step_creates_and_starts_the_job() -> None:
    step = pipeline_steps()["deploy-stage"]
    with FakeJobsApi(TOKEN) as api:
        env = {"PATH": os.environ["PATH"], "DATABRICKS_API_RETRIES": "0"}
        for var, value in step["environment"].items():
            if isinstance(value, dict):  # from_secret: a test value of the right shape
                secret = value["from_secret"]
                value = {"DATABRICKS_HOST": api.url, "DATABRICKS_TOKEN": TOKEN}.get(var) or (
                    f"s3://test-bucket/{secret}" if var.endswith("_S3") else f"test-{secret}")
            env[var] = drone_substitute(str(value))

        for cmd in step["commands"]:
            result = subprocess.run(["bash", "-c", drone_substitute(cmd)], cwd=ROOT, env=env, capture_output=True,
                                    text=True, timeout=60, check=False)
            assert TOKEN not in result.stdout + result.stderr
            assert result.returncode == 0, result.stderr

        ((job_id, settings),) = api.jobs.items()
        assert settings["name"] == step["environment"]["CLUSTER_NAME"]
        assert settings["tasks"][0]["new_cluster"]["docker_image"]["url"] == "test-image_registry/ner-streaming:stage"
        assert len(api.active_runs(job_id)) == 1
