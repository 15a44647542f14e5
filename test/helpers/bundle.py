"""Read databricks.yml the way `databricks bundle` does for what this bundle uses: includes, variables (defaults,
target values, --var values), ${var.*} and ${workspace.current_user.userName} substitution, target run_as.

The Databricks CLI cannot be installed here (the Go module proxy refuses github.com/databricks/cli), so the tests
resolve the bundle themselves and validate the result against the bundle's own models (databricks-bundles on PyPI,
generated from the bundle JSON schema) and the Jobs API's (databricks-sdk).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from test.helpers.deploy_env import ROOT

REF = re.compile(r"\$\{(var\.[A-Za-z0-9_]+|workspace\.current_user\.userName)\}")
# Documented top-level and target keys of a bundle configuration (docs: "Databricks Asset Bundle configuration").
TOP_KEYS = frozenset(
    {
        "bundle",
        "include",
        "variables",
        "targets",
        "resources",
        "run_as",
        "permissions",
        "workspace",
        "artifacts",
        "sync",
        "presets",
        "experimental",
        "python",
        "scripts",
        "git",
    }
)
TARGET_KEYS = frozenset(
    {
        "mode",
        "default",
        "workspace",
        "variables",
        "resources",
        "run_as",
        "permissions",
        "presets",
        "artifacts",
        "bundle",
        "sync",
        "git",
        "cluster_id",
    }
)
VARIABLE_KEYS = frozenset({"description", "default", "type", "lookup"})


def load(root: Path = ROOT) -> dict[str, Any]:
    config = yaml.safe_load((root / "databricks.yml").read_text())
    for pattern in config.get("include", []):
        for path in sorted(root.glob(pattern)):
            for kind, items in (yaml.safe_load(path.read_text()).get("resources") or {}).items():
                config.setdefault("resources", {}).setdefault(kind, {}).update(items)
    return config


def variables(config: dict, target: str, given: dict[str, Any], user: str) -> dict[str, Any]:
    values = {name: spec["default"] for name, spec in config["variables"].items() if "default" in spec}
    values |= config["targets"][target].get("variables", {}) | given
    missing = sorted(set(config["variables"]) - set(values))
    if missing:
        raise KeyError(f"target {target}: no value for variable(s) {missing}")
    for _ in range(5):  # a variable's value may reference others (deploy_key, driver_node_type, docker_image)
        values = {k: substitute(v, values, user) for k, v in values.items()}
    return values


def substitute(value: Any, values: dict[str, Any], user: str) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, values, user) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values, user) for v in value]
    if not isinstance(value, str):
        return value

    def one(ref: str) -> Any:
        return user if ref.startswith("workspace.") else values[ref.removeprefix("var.")]

    whole = REF.fullmatch(value)
    if whole:  # a whole-value reference keeps the variable's type (num_workers stays a number)
        return one(whole.group(1))
    return REF.sub(lambda m: str(one(m.group(1))), value)


def job(config: dict, target: str, given: dict[str, Any], user: str = "someone@example.com") -> dict[str, Any]:
    """The resolved ner_streaming job of a target, with the target's run_as applied as the CLI does. A whole-value
    reference to a complex variable (docker_image) becomes its object."""
    values = variables(config, target, given, user)
    resolved = substitute(copy.deepcopy(config["resources"]["jobs"]["ner_streaming"]), values, user)
    run_as = substitute(config["targets"][target].get("run_as") or config.get("run_as"), values, user)
    if run_as:
        resolved["run_as"] = run_as
    return resolved
