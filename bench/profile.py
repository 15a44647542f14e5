"""`python -m bench.profile STACKS...`: where a Spark Python worker's time goes, from py-spy's raw stacks.

Record while a drain runs: `py-spy record -r 50 -d 12 -f raw -o worker.txt -p <pyspark.daemon worker pid>`.
Each sample is attributed to the innermost frame that matches a rule below.
"""

import sys
from collections import Counter

RULES = (
    ("spacy/", "spaCy + thinc inference"),
    ("thinc/", "spaCy + thinc inference"),
    ("parse_message", "JSON parse + validation"),
    ("messages.py", "JSON parse + validation"),
    ("json/", "JSON parse + validation"),
    ("pandas/", "pandas frame building"),
    ("pyarrow", "Arrow (de)serialisation"),
    ("serializers.py", "Arrow (de)serialisation"),
    ("udfs.py", "UDF glue (app/udfs.py)"),
    ("ner.py", "entity extraction glue (app/inference/ner.py)"),
    ("daemon.py", "idle in the daemon"),
    ("worker.py", "pyspark worker loop"),
)


def attribute(paths: list[str]) -> tuple[Counter, int]:
    shares: Counter = Counter()
    total = 0
    for path in paths:
        for line in open(path, encoding="utf-8"):
            if not line.strip():
                continue
            stack, count = line.rstrip().rsplit(" ", 1)
            total += int(count)
            frames = reversed(stack.split(";"))
            shares[next((name for frame in frames for key, name in RULES if key in frame), "other")] += int(count)
    return shares, total


def main() -> None:
    shares, total = attribute(sys.argv[1:])
    for name, count in shares.most_common():
        print(f"{count / max(total, 1):6.1%} {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
