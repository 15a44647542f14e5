"""The corpus loader: the repository's gzip file by default, BENCH_DATA naming a plain or gzip JSON Lines file."""

import gzip
import json

import pytest

from bench.corpus import DEFAULT, REPO, corpus_path, load_docs

DOCS = [{"uuid": f"u{i}", "text": f"Ada Lovelace {i}", "lang": "en"} for i in range(3)]
LINES = "".join(json.dumps(d) + "\n" for d in DOCS)


def test_the_default_is_the_corpus_in_the_repository():
    assert corpus_path({}) == DEFAULT
    assert DEFAULT.is_relative_to(REPO) and DEFAULT.is_file()


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz", "gzip-without-suffix.jsonl"])
def test_plain_and_gzip_files_read_the_same(tmp_path, name):
    path = tmp_path / name
    if "gz" in name:
        path.write_bytes(gzip.compress(LINES.encode()))
    else:
        path.write_text(LINES, encoding="utf-8")
    assert corpus_path({"BENCH_DATA": str(path)}) == path
    assert load_docs(path) == DOCS
    assert load_docs(path, limit=2) == DOCS[:2]


def test_a_missing_file_names_itself_and_the_override(tmp_path):
    with pytest.raises(FileNotFoundError, match="BENCH_DATA"):
        load_docs(tmp_path / "nope.jsonl.gz")
