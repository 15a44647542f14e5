"""Resource accounting for a contender's process tree: peak RSS per process, CPU seconds between marks. The tree,
RSS and CPU times come from the toolbox's process control (deploy/local/stack/procs.py, on psutil), by pid."""

import threading
import time

from deploy.local.stack import procs


def kind(pid: int) -> str:
    """jvm, py-worker (a Spark Python worker or daemon) or python; gone when it has exited."""
    cmdline = procs.cmdline(pid)
    if not cmdline:
        return "gone"
    if "java" in cmdline.split(" ", 1)[0]:
        return "jvm"
    if "pyspark.daemon" in cmdline or "pyspark.worker" in cmdline:
        return "py-worker"
    return "python"


class TreeSampler(threading.Thread):
    """Samples the root process and all its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(name=f"sampler-{pid}", daemon=True)
        self.root = pid
        self.interval = interval
        self.peak_rss: dict[int, int] = {}
        self.kinds: dict[int, str] = {}
        self.cpu: dict[int, float] = {}
        self.rss_now: dict[int, int] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def sample(self) -> None:
        if not procs.alive(self.root):
            return
        now = {}
        for pid in [self.root, *procs.descendants(self.root)]:
            rss, cpu = procs.rss_bytes(pid), procs.cpu_seconds(pid)
            what = kind(pid)  # every time: spark-submit starts as a shell script and becomes the JVM
            if what == "gone" or not rss:
                continue
            with self._lock:
                self.kinds[pid] = what
                self.peak_rss[pid] = max(rss, self.peak_rss.get(pid, 0))
                self.cpu[pid] = cpu
            now[pid] = rss
        with self._lock:
            self.rss_now = now

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def mark(self) -> dict[int, float]:
        """CPU seconds per pid right now (a process that has exited keeps its last sample)."""
        self.sample()
        with self._lock:
            return dict(self.cpu)

    def cores_used(self, seconds: float) -> float:
        """Cores the tree keeps busy over the next `seconds` (CPU seconds / wall seconds)."""
        start = self.mark()
        time.sleep(seconds)
        return self.cpu_between(start, self.mark()) / seconds

    @staticmethod
    def cpu_between(start: dict[int, float], end: dict[int, float]) -> float:
        return sum(cpu - start.get(pid, 0.0) for pid, cpu in end.items())

    def cpu_by_kind(self, start: dict[int, float], end: dict[int, float]) -> dict[str, float]:
        """CPU seconds between two marks per process kind: where the time goes (JVM, Python workers, driver)."""
        out: dict[str, float] = {}
        with self._lock:
            for pid, cpu in end.items():
                k = self.kinds.get(pid, "python")
                out[k] = out.get(k, 0.0) + cpu - start.get(pid, 0.0)
        return out

    def peak_by_kind(self) -> dict[str, dict]:
        """{kind: {"processes": n, "peak_rss_mb": max over those processes}}."""
        out: dict[str, dict] = {}
        with self._lock:
            for pid, rss in self.peak_rss.items():
                k = self.kinds.get(pid, "python")
                entry = out.setdefault(k, {"processes": 0, "peak_rss_mb": 0.0})
                entry["processes"] += 1
                entry["peak_rss_mb"] = round(max(entry["peak_rss_mb"], rss / 2**20), 1)
        return out

    def rss_by_kind_now(self) -> dict[str, float]:
        with self._lock:
            out: dict[str, float] = {}
            for pid, rss in self.rss_now.items():
                k = self.kinds.get(pid, "python")
                out[k] = round(out.get(k, 0.0) + rss / 2**20, 1)
            return out

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
