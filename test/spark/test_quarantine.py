"""The quarantine's search: from a failed offset range to the single offsets that fail it."""

from app.spark.quarantine import OffsetRange, Poison, _source_offsets, find_poison


def probe_failing_on(bad: set[int], calls: list | None = None):
    def probe(topic: str, partition: int, start: int, end: int) -> str | None:
        if calls is not None:
            calls.append((start, end))
        hit = sorted(o for o in bad if start <= o < end)
        return f"worker crashed at {hit[0]}" if hit else None

    return probe


def test_finds_every_failing_offset_and_nothing_else():
    ranges = [OffsetRange("in", 0, 100, 2100), OffsetRange("in", 1, 0, 7)]
    calls: list = []
    found = find_poison(ranges, probe_failing_on({150, 151, 1999}, calls), piece=500)
    assert [p.offset for p in found] == [150, 151, 1999]
    assert all(p.topic == "in" and p.partition == 0 and p.failure.startswith("worker crashed") for p in found)
    assert len(calls) < 60  # pieces, then halving: not offset by offset


def test_a_range_that_succeeds_has_no_poison():
    assert find_poison([OffsetRange("in", 0, 0, 1000)], probe_failing_on(set())) == []


def test_a_failure_everywhere_is_not_poison():
    """A broker outage fails every probe: the search gives up instead of quarantining the whole range."""
    always = find_poison([OffsetRange("in", 0, 0, 10_000)], lambda *_: "broker unreachable", max_probes=100)
    assert always == []


def test_poison_key_is_what_the_transform_looks_up():
    assert Poison("in", 3, 42, "x").key == "in/3/42"


def test_offsets_are_read_from_both_checkpoint_file_formats():
    offsets_log = 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1,"conf":{}}\n{"in":{"0":12,"1":40}}'
    initial = '\x00v1\n{"in":{"0":0,"1":5}}'
    assert _source_offsets(offsets_log) == {"in": {"0": 12, "1": 40}}
    assert _source_offsets(initial) == {"in": {"0": 0, "1": 5}}
