"""The README's settings table, generated from the `Settings` dataclass and its groups so that it cannot drift from
the code.

`python -m deploy.docs.settings_table` rewrites the block between the markers in README.md (`make docs`);
`--check` changes nothing and exits 1 when the committed block differs from what the code gives.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, Field
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.settings_fields import walk

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
HEADER = "| Env var | Default | Meaning |\n|---|---|---|"


def _default(f: Field[Any]) -> str:
    value = f.default
    if value is MISSING:
        return "(required)"
    if isinstance(value, bool):  # the spelling the environment takes
        value = str(value).lower()
    elif isinstance(value, tuple):
        value = ",".join(value)
    return f"`{value}`" if value != "" else "(empty)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """The markdown table of every setting, group by group: its env var, default and the doc declared beside it."""
    rows, group = [], ""
    for path, f in walk(Settings):
        where = path.rpartition(".")[0]
        if where != group:  # a row that heads each group (kafka, spark, ...): where the setting lives in the code
            group = where
            rows.append(f"| **{group}** | | |")
        doc = f.metadata["doc"] + ("; secret, logged as `***`" if f.metadata["secret"] else "")
        rows.append(f"| `{f.metadata['env']}` | {_cell(_default(f))} | {_cell(doc)} |")
    return "\n".join([HEADER, *rows])


def render(text: str) -> str:
    """`text` with the block between the markers replaced by the current table."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        msg = f"README.md needs the markers {BEGIN} and {END}, in that order, around the settings table"
        raise ValueError(msg)
    return f"{text[: start + len(BEGIN)]}\n{table()}\n{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed table is stale; write nothing")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    wanted = render(text)
    if wanted == text:
        return 0
    if args.check:
        print(f"{args.readme}: the settings table is stale; run `make docs`", file=sys.stderr)
        return 1
    args.readme.write_text(wanted, encoding="utf-8")
    print(f"{args.readme}: settings table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
