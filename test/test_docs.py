"""The docs cannot go stale silently: every repository path, `make` target and setting that README.md and docs/*.md
name exists, and the README's settings table is what deploy/docs/settings_table.py generates from the code."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from app.settings import Settings
from app.settings_fields import walk
from deploy.databricks.settings import DeploySettings, read_env_file
from deploy.docs import settings_table

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# A repository path, as the docs write one: rooted at one of the project's top-level folders.
REPO_PATH = re.compile(r"(?:app|bench|deploy|docs|resources|test)/[\w./*-]*")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
MAKE_COMMAND = re.compile(r"(?:^|&&|;|\$\s)\s*make\s+([^#`|;&]*)")
SHELL_COMMENT = re.compile(r"(^|\s)#.*")
MAKE_WORD = re.compile(r"[a-z][\w.-]*")
UPPER_SNAKE = re.compile(r"(?<![\w.$-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![\w-])")
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)", re.MULTILINE)
MAKE_VARIABLE = re.compile(r"^(?:export[ \t]+)?([A-Z][A-Z0-9_]*)[ \t]*(?:\?|:|\+|::)?=", re.MULTILINE)
INCLUDE = re.compile(r"^-?include[ \t]+(.+)$", re.MULTILINE)

# How the code reads a variable from its environment: os.environ[...], environ.get(...), getenv(...), env.get(...).
# The local stack's toolbox also reads its variables through a dict of defaults ({"BURROW_INTERVALS": "10", ...}).
ENV_READ = re.compile(r"(?:environ|getenv|env)(?:\.get)?[(\[]\s*[\"']([A-Z][A-Z0-9_]+)[\"']")
ENV_DEFAULT = re.compile(r"[\"']([A-Z][A-Z0-9_]+)[\"']\s*:")

# UPPER_SNAKE names the docs may use that no code in app/, bench/ or deploy/ reads as a setting or variable. Only
# names that share a first word with one (KAFKA_, SPARK_, ...) are taken for settings, so few need to be here.
NOT_SETTINGS = {
    "DATABRICKS_HOST": "databricks-sdk's own credentials: deploy/databricks/settings.py leaves them to the SDK",
    "DATABRICKS_TOKEN": "likewise",
    "DATABRICKS_CLIENT_ID": "likewise",
    "DATABRICKS_CLIENT_SECRET": "likewise",
}


def _lines(doc: Path) -> list[tuple[int, str, bool]]:
    """(line number, text, inside a fenced code block) for every line of a doc, the fences themselves left out."""
    out, fenced = [], False
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        out.append((number, line, fenced))
    return out


def _where(doc: Path, number: int) -> str:
    return f"{doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc.name}:{number}"


def _ignored_folders(name: str) -> list[str]:
    """The folders an ignore file names (`bench/results/raw/`), as paths from the repository root."""
    file = ROOT / name
    lines = file.read_text().splitlines() if file.exists() else []
    return [line.strip().strip("/") for line in lines if "/" in line.strip().rstrip("/") and "*" not in line]


# Folders whose files a doc may name without them being here: what the commands write (git-ignored outputs such as
# bench/results/raw/), and, where a folder is absent as a whole, what the image's build context leaves out
# (.dockerignore drops bench/results, and the image build runs this test).
OUTPUT_FOLDERS = _ignored_folders(".gitignore")
LEFT_OUT = [folder for folder in _ignored_folders(".dockerignore") if not (ROOT / folder).exists()]


def _path_exists(path: str, base: Path) -> bool:
    target = (base / path).resolve()
    relative = target.relative_to(ROOT).as_posix() if target.is_relative_to(ROOT) else ""
    if any(relative == f or relative.startswith(f + "/") for f in OUTPUT_FOLDERS + LEFT_OUT):
        return True
    if "*" in path:
        return any(base.glob(path))
    return target.exists()


def _missing_paths(doc: Path) -> list[str]:
    problems = []
    for number, line, fenced in _lines(doc):
        candidates: list[tuple[str, Path]] = []
        if not fenced:
            # A code span that is a path alone (a command's arguments may name files it will write).
            candidates += [(s, ROOT) for s in CODE_SPAN.findall(line) if REPO_PATH.fullmatch(s.rstrip("/"))]
        for target in LINK.findall(line):
            target = target.split("#", 1)[0]
            if target and not re.match(r"^[a-z]+:", target):  # not http:, mailto:, ...
                candidates.append((target, doc.parent))
        for path, base in candidates:
            if not _path_exists(path, base):
                problems.append(f"{_where(doc, number)}: `{path}` does not exist")
    return problems


def _included_makefiles() -> list[Path]:
    makefile = ROOT / "Makefile"
    found = [makefile]
    for line in INCLUDE.findall(makefile.read_text()):
        found += [ROOT / name for name in line.split() if (ROOT / name).exists()]
    return found


def _make_targets() -> set[str]:
    targets: set[str] = set()
    for makefile in _included_makefiles():
        for rule in MAKE_RULE.findall(makefile.read_text()):
            targets.update(rule.split())
    return targets


def _make_variables() -> set[str]:
    return {v for makefile in _included_makefiles() for v in MAKE_VARIABLE.findall(makefile.read_text())}


def _named_targets(doc: Path) -> list[tuple[int, str]]:
    """`make x y` in code spans that start with make, and on the command lines of fenced blocks."""
    named = []
    for number, line, fenced in _lines(doc):
        if fenced:
            commands = [SHELL_COMMENT.sub("", line)]
        else:
            commands = [span for span in CODE_SPAN.findall(line) if span.startswith("make ")]
        for command in commands:
            for words in MAKE_COMMAND.findall(command):
                for word in words.split():
                    if "=" in word or not MAKE_WORD.fullmatch(word):
                        break  # variables and options follow the targets
                    named.append((number, word))
    return named


def _known_names() -> set[str]:
    """The settings of the job and the deploy, every variable the code reads, the make variables, the exceptions."""
    names = {f.metadata["env"] for _, f in walk(Settings)}
    names |= {f.metadata["env"] for f in fields(DeploySettings) if f.metadata["env"]}
    deploy_source = (ROOT / "deploy/databricks/settings.py").read_text()
    names |= set(re.findall(r"\"([A-Z][A-Z0-9_]+)\"", deploy_source))  # PASSTHROUGH, IMAGE_*, ...
    names |= set(read_env_file(ROOT / "deploy/databricks/runtime.env"))
    for source in [p for folder in ("app", "bench", "deploy") for p in (ROOT / folder).rglob("*.py")]:
        code = source.read_text(encoding="utf-8")
        names |= set(ENV_READ.findall(code)) | set(ENV_DEFAULT.findall(code))
    return names | _make_variables() | set(NOT_SETTINGS)


def _setting_like(name: str, families: set[str]) -> bool:
    """A name that shares its first word with a setting (KAFKA_, SPARK_, SPACY_...) reads as one."""
    return name.split("_", 1)[0] in families


@pytest.fixture(scope="module")
def known_names() -> set[str]:
    return _known_names()


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_named_paths_exist(doc: Path) -> None:
    problems = _missing_paths(doc)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_named_make_targets_exist(doc: Path) -> None:
    targets = _make_targets()
    problems = [
        f"{_where(doc, number)}: `make {target}` is not a target of the Makefile or its included fragments"
        for number, target in _named_targets(doc)
        if target not in targets
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_named_settings_exist(doc: Path, known_names: set[str]) -> None:
    families = {name.split("_", 1)[0] for name in known_names - set(NOT_SETTINGS)}
    problems = [
        f"{_where(doc, number)}: `{name}` is not a setting (app/settings.py, deploy/databricks/settings.py), "
        "nor a variable the code or a make fragment reads; fix the doc, or add it to NOT_SETTINGS with why"
        for number, line, _ in _lines(doc)
        for name in UPPER_SNAKE.findall(line)
        if name not in known_names and _setting_like(name, families)
    ]
    assert not problems, "\n".join(problems)


def test_readme_settings_table_is_generated() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.render(readme) == readme, (
        "README.md: the settings table between <!-- settings:begin --> and <!-- settings:end --> differs from "
        "app/settings.py; run `make docs` (python -m deploy.docs.settings_table) and commit README.md"
    )


def test_the_checks_report_doc_line_and_name(tmp_path: Path) -> None:
    doc = tmp_path / "probe.md"
    doc.write_text("intro\n`app/nope.py` and [x](nope2.md)\n```\nmake nope-target VAR=1\n```\n`SPACY_MODEL`\n")
    assert _missing_paths(doc) == [
        "probe.md:2: `app/nope.py` does not exist",
        "probe.md:2: `nope2.md` does not exist",
    ]
    assert _named_targets(doc) == [(4, "nope-target")]
    known = _known_names()
    assert "SPACY_MODEL" not in known
    assert _setting_like("SPACY_MODEL", {name.split("_", 1)[0] for name in known})
