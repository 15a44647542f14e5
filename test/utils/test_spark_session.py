"""Shipping the `app` package to executors that do not share the driver's disk."""

import subprocess
import sys
import zipfile

import pytest

from app.utils.spark_session import is_local, package_zip


@pytest.mark.parametrize(("master", "local"), [
    ("local", True), ("local[2]", True), ("local[*]", True), ("local-cluster[2,1,1024]", True),
    ("spark://127.0.0.1:7077", False), ("k8s://https://10.0.0.1:443", False), ("yarn", False),
])
def test_only_non_local_masters_need_the_package_shipped(master, local):
    assert is_local(master) is local


def test_package_zip_holds_the_sources_without_bytecode(tmp_path):
    names = zipfile.ZipFile(package_zip(tmp_path)).namelist()
    assert {"app/__init__.py", "app/udfs.py", "app/utils/settings.py", "app/config/production.toml"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_package_zip_is_importable_from_anywhere(tmp_path):
    archive = package_zip(tmp_path)
    # A fresh interpreter in an empty directory, with only the zip on its path: what a remote executor has.
    code = "import app.udfs, app.pipeline; print(app.udfs.__file__)"
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip().startswith(str(archive))


def test_a_provided_session_is_used_and_never_stopped(spark):
    from app.utils.settings import Settings
    from app.utils.spark_session import session

    with session(Settings.load({"APP_ENV": "testing"})) as provided:
        assert provided is spark
    assert spark.range(3).count() == 3  # still alive: a runtime's session is not the job's to stop
