"""make test-runtime runs what the Databricks runtime runs: runtime.env's versions reach the venv's constraints, the
tox env and CI call the target, its end-to-end tests exist, and a machine without the runtime's Python fails."""

from __future__ import annotations

import re
from importlib import metadata

import pytest

from deploy.databricks.settings import RUNTIME_ENV, read_env_file
from deploy.image import runtime_pins
from test.helpers.deploy_env import ROOT
from test.helpers.make import dry_run, make

RUNTIME_MK = ROOT / "deploy" / "databricks" / "runtime.mk"
# A make of our own, with no variables of the make that runs these tests (make exports its command-line variables,
# e.g. test-newest's RUNTIME_SPARK): only what finds the tools.


def test_runtime_env_names_the_runtime_s_spark_python_and_libraries() -> None:
    env = read_env_file(RUNTIME_ENV)

    assert runtime_pins.read_env() == env  # the image's reader (stdlib only) and the deploy's agree
    assert re.fullmatch(r"\d+\.\d+", env["DATABRICKS_RUNTIME_PYTHON"])
    for key in runtime_pins.RUNTIME_PROVIDED.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", env[key]), key


def test_constraints_pin_the_runtime_s_packages_and_take_another_spark() -> None:
    env = read_env_file(RUNTIME_ENV)

    assert runtime_pins.constraints(env)[:4] == [
        f"pyspark=={env['DATABRICKS_RUNTIME_SPARK']}",
        f"numpy=={env['DATABRICKS_RUNTIME_NUMPY']}",
        f"pandas=={env['DATABRICKS_RUNTIME_PANDAS']}",
        f"pyarrow=={env['DATABRICKS_RUNTIME_PYARROW']}",
    ]
    assert len(runtime_pins.constraints(env)) == len(runtime_pins.RUNTIME_PROVIDED)
    assert runtime_pins.constraints(env, spark="9.9.9")[0] == "pyspark==9.9.9"


def test_requirements_leave_the_runtime_s_packages_to_the_constraints() -> None:
    pinned = runtime_pins.requirements(ROOT / "requirements.txt", without=set())
    databricks = runtime_pins.requirements(ROOT / "requirements.txt", without={"pyspark"})
    dev = runtime_pins.requirements(ROOT / "requirements-dev.txt", without=set())

    assert {"pyspark", "numpy", "pandas", "pyarrow"} <= set(pinned)  # bare names: the constraints choose
    assert "pyspark" not in databricks and set(databricks) == set(pinned) - {"pyspark"}
    assert set(pinned) <= set(dev)  # -r requirements.txt inlined, the same way
    assert not [line for line in dev if line.startswith("-")]


def test_check_names_each_package_off_the_runtime() -> None:
    installed = {name: metadata.version(name) for name in runtime_pins.RUNTIME_PROVIDED}
    env = {key: installed[name] for name, key in runtime_pins.RUNTIME_PROVIDED.items()}

    assert runtime_pins.check(env, None, without=set()) == []
    moved = runtime_pins.check({**env, "DATABRICKS_RUNTIME_NUMPY": "0.0.1"}, None, without=set())
    assert len(moved) == 1 and moved[0].startswith(f"numpy is {installed['numpy']}, the runtime has 0.0.1")
    assert runtime_pins.check(env, None, without={"pyspark"}) == [
        f"pyspark {installed['pyspark']} is installed: the runtime provides it"
    ]


def test_the_runtime_s_end_to_end_tests_exist_and_need_the_broker() -> None:
    ids = re.findall(r"(test/\S+\.py)::(\w+)", RUNTIME_MK.read_text())

    assert len(ids) >= 5
    for path, name in ids:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} is gone"
        signature = source[source.index(f"def {name}(") :].split(")", 1)[0]
        assert "kafka_bootstrap" in signature, f"{name}: not a test on the real broker"


def test_tox_and_ci_run_the_make_targets() -> None:
    tox = (ROOT / "tox.ini").read_text()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()

    assert "make --no-print-directory test-runtime" in tox.split("[testenv:runtime]", 1)[1].split("[testenv:", 1)[0]
    assert "make --no-print-directory test-newest" in tox.split("[testenv:newest]", 1)[1]
    assert ci.index("make test-runtime") > ci.index("make test")


def test_the_venv_takes_runtime_env_s_spark_and_the_newest_one_line() -> None:
    dry = dry_run("runtime-venv", "RUNTIME_VENV=.local/dry-runtime")
    newest = re.search(r"^NEWEST_SPARK \?= (\S+)$", RUNTIME_MK.read_text(), re.M)

    assert f"constraints --spark {read_env_file(RUNTIME_ENV)['DATABRICKS_RUNTIME_SPARK']}" in dry
    assert newest and re.fullmatch(r"\d+\.\d+\.\d+", newest.group(1))


@pytest.mark.timeout(60)
def test_no_runtime_python_is_an_error_not_a_skip(tmp_path) -> None:
    result = make("runtime-venv", "DATABRICKS_RUNTIME_PYTHON=3.99", f"RUNTIME_VENV={tmp_path}/v")

    assert result.returncode != 0
    assert "no Python 3.99" in result.stderr and "DATABRICKS_RUNTIME_PYTHON" in result.stderr
    assert not (tmp_path / "v").exists()


def test_a_failing_or_empty_pytest_fails_the_target() -> None:
    """pytest's exit 5 (nothing collected) and every other failure reach make: no `-` prefix, no `|| true`."""
    recipe = [line for line in RUNTIME_MK.read_text().splitlines() if line.startswith("\t")]
    pytest_lines = [line for line in recipe if "-m pytest" in line]

    assert len(pytest_lines) == 2
    assert not [line for line in recipe if line.startswith("\t-") or "|| true" in line or "; true" in line]
