"""Per-message histograms counted in the Python workers and exported by the driver: the workers send bucket counts
(app/contract.py Histogram), which prometheus_client's Histogram cannot take, so this collector adds them up and
exports them as one Prometheus histogram per language."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from itertools import accumulate

from prometheus_client.core import HistogramMetricFamily, Metric

from app.contract import SECONDS_BUCKETS, Histogram


class LangHistograms:
    """A cumulative histogram per `lang`, fed with the workers' bucket counts; register it on a registry."""

    def __init__(self, name: str, documentation: str, langs: Iterable[str] = ()) -> None:
        self.name, self.documentation = name, documentation
        self._lock = threading.Lock()
        self._by_lang: dict[str, Histogram] = {lang: Histogram() for lang in langs}

    def add(self, lang: str, counts: Histogram) -> None:
        with self._lock:
            self._by_lang.setdefault(lang, Histogram()).add(counts)

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=["lang"])
        with self._lock:
            for lang, h in sorted(self._by_lang.items()):
                cumulative = list(accumulate(h.counts))
                buckets = [(f"{bound:g}", count) for bound, count in zip(SECONDS_BUCKETS, cumulative, strict=False)]
                family.add_metric([lang], [*buckets, ("+Inf", cumulative[-1])], sum_value=h.total)
        yield family
