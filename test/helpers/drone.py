"""Read .drone.yml, and give a step the environment and the substitution Drone would (for the deploy tests)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from test.helpers.deploy_env import ROOT

# What Drone substitutes for ${DRONE_...} before running a step.
DRONE_VARS = {
    "DRONE_BRANCH": "main",
    "DRONE_TAG": "",
    "DRONE_COMMIT_SHA": "c0ffee" * 6 + "c0ff",
    "DRONE_BUILD_NUMBER": "42",
    "DRONE_BUILD_EVENT": "push",
    "DRONE_DEPLOY_TO": "",
}


def pipelines() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((ROOT / ".drone.yml").read_text()) if d and d.get("kind") == "pipeline"]
    return {doc["name"]: doc for doc in docs}


def steps() -> list[tuple[str, dict]]:
    """(pipeline name, step) for every step."""
    return [(name, step) for name, doc in pipelines().items() for step in doc["steps"]]


def step(name: str) -> dict:
    (found,) = [s for _, s in steps() if s["name"] == name]
    return found


def substitute(value: str, drone_vars: dict[str, str] = DRONE_VARS) -> str:
    """Drone's substitution: ${DRONE_X} becomes the build's value, $$ a literal $."""
    value = re.sub(r"(?<!\$)\$\{(DRONE_[A-Z_]+)\}", lambda m: drone_vars[m.group(1)], value)
    return value.replace("$$", "$")


def secret_value(var: str, secret: str, overrides: dict[str, str]) -> str:
    """A test value of the right shape for a from_secret variable."""
    if var in overrides:
        return overrides[var]
    shapes = {
        "CHECKPOINT_LOCATION": f"/Volumes/ml/ner/checkpoints/{secret}",
        "LOG_DESTINATION": f"s3://logs/{secret}",
        "RUN_AS_SERVICE_PRINCIPAL": "11111111-2222-3333-4444-555555555555",
        "INSTANCE_PROFILE_ARN": f"arn:aws:iam::1:instance-profile/{secret}",
        "IMAGE_REGISTRY": "registry.example/ml",
        "AWS_REGION": "eu-west-1",
        "JOB_OWNER": "22222222-3333-4444-5555-666666666666",
        "DATABRICKS_CLIENT_ID": "22222222-3333-4444-5555-666666666666",
    }
    return shapes.get(var, f"test-{secret}")


def deploy_step_env(name: str, tmp: Path, image_digest: str = "", **secrets: str) -> dict[str, str]:
    """The environment a deploy step's commands see: its own, secrets filled in, Drone's variables, and the promote
    parameter IMAGE_DIGEST when given (Drone hands a build's parameters to every step as variables)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), **DRONE_VARS}
    for var, value in step(name)["environment"].items():
        if isinstance(value, dict):
            value = secret_value(var, value["from_secret"], secrets)
        env[var] = substitute(str(value))
    if image_digest:
        env["IMAGE_DIGEST"] = image_digest
    return env
