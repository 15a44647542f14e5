"""The images install hash-pinned locks in step with requirements.txt and runtime.env, the app as a package (no
PYTHONPATH), from bases that take a digest, with OCI source and revision labels."""

from __future__ import annotations

import re
import shutil
import subprocess

from deploy.databricks.settings import RUNTIME_ENV, read_env_file
from deploy.image import runtime_pins
from test.helpers.deploy_env import ROOT
from test.helpers.make import dry_run

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# A make of our own, with no variables of the make that runs these tests (make exports its command-line variables,
# e.g. test-newest's RUNTIME_SPARK): only what finds the tools.


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    return {canonical(m.group(1)): m.group(2) for m in map(PIN.match, text.splitlines()) if m}


def lock_entries(name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a lock file: `name==version \\` then `--hash=` lines."""
    entries: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (ROOT / name).read_text().splitlines():
        if m := PIN.match(line):
            current = canonical(m.group(1))
            entries[current] = (m.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def stages() -> dict[str, str]:
    """The Dockerfile's stages by name: the text from each `FROM ... AS name` to the next FROM."""
    parts = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[1:]
    return {m.group(1): part for part in parts if (m := re.match(r"\S+ AS (\S+)", part))}


def test_every_package_of_each_lock_is_pinned_with_hashes() -> None:
    for name in ("requirements.lock", "requirements-databricks.lock", "deploy/image/build.lock"):
        entries = lock_entries(name)
        assert entries, name
        assert not [pkg for pkg, (_, hashes) in entries.items() if hashes == 0], name


def test_the_lock_is_in_step_with_requirements_txt() -> None:
    wanted = pins((ROOT / "requirements.txt").read_text())
    locked = {pkg: version for pkg, (version, _) in lock_entries("requirements.lock").items()}

    assert {pkg: locked.get(pkg) for pkg in wanted} == wanted


def test_the_databricks_lock_has_the_runtime_s_packages_and_no_pyspark() -> None:
    env = read_env_file(RUNTIME_ENV)
    wanted = pins((ROOT / "requirements.txt").read_text())
    locked = {pkg: version for pkg, (version, _) in lock_entries("requirements-databricks.lock").items()}
    runtime = {name: env[key] for name, key in runtime_pins.RUNTIME_PROVIDED.items() if name != "pyspark"}

    assert "pyspark" not in locked
    assert {pkg: locked.get(pkg) for pkg in runtime} == runtime
    ours = {pkg: version for pkg, version in wanted.items() if pkg not in runtime and pkg != "pyspark"}
    assert {pkg: locked.get(pkg) for pkg in ours} == ours


def test_the_images_install_the_locks_with_require_hashes() -> None:
    by_stage = stages()

    assert "pip install --require-hashes -r /tmp/build/requirements.lock" in by_stage["deps"]
    assert "--require-hashes -r /tmp/build/build.lock" in by_stage["test"]
    databricks = by_stage["databricks"]
    assert re.search(
        r"pip install --require-hashes -c \S+constraints.txt -r \S+requirements-databricks.lock", databricks
    )
    assert "runtime_pins.py check" in databricks and "--without pyspark" in databricks
    installs = re.findall(r"pip install [^\n\\]*", "\n".join(by_stage.values()))
    # Hashed, or our own wheel, or the throw-away test stage's tools (that stage never ships).
    unhashed = [cmd for cmd in installs if not re.match(r"pip install (--require-hashes|--no-deps --no-index) ", cmd)]
    assert unhashed == ["pip install -r /tmp/build/requirements-dev.txt -r /tmp/build/bench-requirements.txt "]


def test_the_app_is_an_installed_package_not_a_pythonpath() -> None:
    by_stage = stages()

    assert "pip wheel --no-deps --no-build-isolation --wheel-dir /out/dist /src" in by_stage["test"]
    for name in ("local", "databricks"):
        assert "--no-deps --no-index /tmp/out/dist/*.whl" in by_stage[name], name
        assert not re.search(r"^\s*(ENV\s.*)?PYTHONPATH=", by_stage[name], re.M), name


def test_both_images_carry_the_oci_source_and_revision() -> None:
    by_stage = stages()
    for name in ("local", "databricks"):
        assert "org.opencontainers.image.source=${IMAGE_SOURCE}" in by_stage[name], name
        assert "org.opencontainers.image.revision=${IMAGE_REVISION}" in by_stage[name], name

    dry = dry_run("image")
    # A tree without git (an export, the image's test stage): make finds no revision either.
    head = (
        subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
        if shutil.which("git")
        else None
    )
    revision = head.stdout.strip() if head is not None and head.returncode == 0 else ""
    assert re.search(rf"IMAGE_REVISION={revision}(\s|$)", dry)


def test_base_images_take_a_digest_from_one_place() -> None:
    env = read_env_file(RUNTIME_ENV)
    dockerfile = (ROOT / "Dockerfile").read_text()
    python_base = re.search(r"^ARG PYTHON_BASE=(\S+)$", dockerfile, re.M)

    assert python_base and re.fullmatch(rf"[\w./-]+:[\w.-]+(@{DIGEST.pattern})?", python_base.group(1))
    assert env["DATABRICKS_BASE_DIGEST"] == "" or DIGEST.fullmatch(env["DATABRICKS_BASE_DIGEST"])
    digest = "sha256:" + "0" * 64
    dry = dry_run("image", f"DATABRICKS_BASE_DIGEST={digest}")
    assert f"DATABRICKS_BASE={env['DATABRICKS_BASE_IMAGE']}@{digest}" in dry


def copied_to_build(stage: str) -> dict[str, str]:
    """/tmp/build/<name> -> the context's file, from a stage's `COPY src... /tmp/build/[name]` lines."""
    copied: dict[str, str] = {}
    for m in re.finditer(r"^COPY (?!--from)([^\n]+?) /tmp/build/(\S*)$", stage, re.M):
        sources, target = m.group(1).split(), m.group(2)
        for src in sources:
            copied[target or src.rsplit("/", 1)[-1]] = src
    return copied


def test_every_requirements_file_a_build_stage_installs_finds_what_it_includes() -> None:
    """pip resolves `-r other.txt` beside the file: the build must copy `other.txt` to /tmp/build too."""
    checked = 0
    for name, stage in stages().items():
        copied = copied_to_build(stage)
        for target in re.findall(r"-r /tmp/build/([^\s;]+)", stage):
            assert target in copied, f"stage {name} installs /tmp/build/{target}, which no COPY brings"
            included = re.findall(r"^-r\s+(\S+)", (ROOT / copied[target]).read_text(), re.M)
            missing = [inc for inc in included if inc not in copied]
            assert not missing, f"stage {name}: {copied[target]} includes {missing}, not copied to /tmp/build"
            checked += 1
    assert checked >= 4  # requirements.lock, requirements-dev.txt, bench-requirements.txt, build.lock at least
