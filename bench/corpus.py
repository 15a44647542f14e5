"""The test and benchmark corpus: bench/data/bench.jsonl.gz in this repository (BENCH_DATA names another file)."""

import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Inside the checkout, so a bare clone tests and benchmarks as it is (licence: bench/data/SOURCES.md).
DEFAULT = REPO / "bench" / "data" / "bench.jsonl.gz"
_GZIP_MAGIC = b"\x1f\x8b"


def corpus_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("BENCH_DATA") or DEFAULT)


def load_docs(path: Path | None = None, limit: int | None = None) -> list[dict]:
    """{"uuid", "text", "lang"} per document, the first `limit` of them; gzip or plain JSON Lines.

    The content decides, not the name: a BENCH_DATA file that is gzip without `.gz` still reads.
    """
    path = corpus_path() if path is None else path
    if not path.is_file():
        msg = f"corpus {path} is missing (BENCH_DATA names a .jsonl or .jsonl.gz file; unset, {DEFAULT})"
        raise FileNotFoundError(msg)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    docs: list[dict] = []
    with gzip.open(path, "rt", encoding="utf-8") if gzipped else path.open(encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(docs) >= limit:
                break
            if line.strip():
                docs.append(json.loads(line))
    return docs
