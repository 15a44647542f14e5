"""The benchmark corpus: the shared bench.jsonl beside the checkout (BENCH_DATA overrides), never copied here."""

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "bench.jsonl"


def corpus_path(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("BENCH_DATA") or DEFAULT)


def load_docs(path: Path, limit: int | None = None) -> list[dict]:
    """{"uuid", "text", "lang"} per document, the first `limit` of them."""
    if not path.is_file():
        msg = f"benchmark corpus {path} is missing (set BENCH_DATA to its path)"
        raise FileNotFoundError(msg)
    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(docs) >= limit:
                break
            docs.append(json.loads(line))
    return docs
