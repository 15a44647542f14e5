"""Every fixed port the tests, the image test and the bench listen on sits below Linux's ephemeral range
(32768-60999), where any client socket may hold a port for a moment: CI once failed to bind a test broker to
39692, taken by a client connection of an earlier test."""

import re

from deploy.local.stack.procs import REPO

EPHEMERAL_LOW = 32768
# PORT = 29692, port=29294, BURROW_PORT="28100", KAFKA_PORT:-29592, BENCH_KAFKA_PORT ?= 29792, "127.0.0.1:29792"
_PORT = re.compile(r"(?i)(?:port\s*(?:=|\?=|:-)\s*\"?|127\.0\.0\.1:)(\d{4,5})\b")
_WHERE = ["test", "bench", "deploy"]
_SUFFIXES = {".py", ".sh", ".mk"}


def fixed_ports() -> list[tuple[str, int]]:
    found = []
    for top in _WHERE:
        for path in sorted((REPO / top).rglob("*")):
            if path.suffix in _SUFFIXES and path.is_file():
                for match in _PORT.finditer(path.read_text(encoding="utf-8")):
                    found.append((str(path.relative_to(REPO)), int(match.group(1))))
    return found


def test_the_pattern_finds_the_ports_it_guards():
    found = fixed_ports()
    assert ("test/deploy/local/stack/test_demo.py", 29692) in found
    assert ("deploy/image/image-test.sh", 29592) in found
    assert ("bench/bench.mk", 29792) in found


def test_no_fixed_port_is_in_the_ephemeral_range():
    inside = [(path, port) for path, port in fixed_ports() if port >= EPHEMERAL_LOW]
    assert inside == [], f"move these below {EPHEMERAL_LOW}: {inside}"
