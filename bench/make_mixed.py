"""`python -m bench.make_mixed`: builds bench/data/mixed.jsonl, English and French docs for the multilingual bench.

The first 300 docs of bench.jsonl.gz and every doc of fr.jsonl, in a fixed shuffle. In each language a third of the
docs say `"lang": "auto"` and a few have no `lang` at all, so detection is exercised on both languages; the rest keep
their own code. Deterministic: `--check` fails when the committed file differs from what this script writes.
"""

import argparse
import json
import random
import sys
from pathlib import Path

from bench.corpus import DEFAULT, REPO, load_docs

FRENCH = REPO / "bench" / "data" / "fr.jsonl"
MIXED = REPO / "bench" / "data" / "mixed.jsonl"
ENGLISH_DOCS = 300
SEED = 20251203
AUTO_SHARE = 1 / 3
# Omitted, not "auto": a producer that never heard of the field must still be served.
OMITTED_SHARE = 0.04


def relabel(docs: list[dict], rng: random.Random) -> list[dict]:
    """Copies of `docs` where a third ask for detection ("auto") and a few omit `lang`; chosen by `rng`."""
    order = list(range(len(docs)))
    rng.shuffle(order)
    n_auto = round(len(docs) * AUTO_SHARE)
    n_omitted = max(1, round(len(docs) * OMITTED_SHARE))
    auto, omitted = set(order[:n_auto]), set(order[n_auto : n_auto + n_omitted])
    out = []
    for i, doc in enumerate(docs):
        new = {"uuid": doc["uuid"], "text": doc["text"]}
        if i in auto:
            new["lang"] = "auto"
        elif i not in omitted:
            new["lang"] = doc["lang"]
        out.append(new)
    return out


def build(english: list[dict], french: list[dict], seed: int = SEED) -> list[dict]:
    """The mixed corpus: both languages relabelled, then shuffled together, all from one seeded generator."""
    rng = random.Random(seed)
    docs = relabel(english, rng) + relabel(french, rng)
    rng.shuffle(docs)
    return docs


def true_languages(english: list[dict], french: list[dict]) -> dict[str, str]:
    """uuid -> the language the doc is written in, the truth for docs whose `lang` is "auto" or missing."""
    return {doc["uuid"]: doc["lang"] for doc in english + french}


def sources() -> tuple[list[dict], list[dict]]:
    """The English and French source docs, read from the files committed in bench/data."""
    return load_docs(DEFAULT, limit=ENGLISH_DOCS), load_docs(FRENCH)


def render(docs: list[dict]) -> str:
    """JSON Lines as bench.jsonl writes them: UTF-8 left as is, one object a line."""
    return "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MIXED, help=f"where to write (default {MIXED.relative_to(REPO)})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if --out differs from the output")
    args = parser.parse_args(argv)
    text = render(build(*sources()))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is not what bench/make_mixed.py builds; run python -m bench.make_mixed", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
