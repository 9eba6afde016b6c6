"""Prometheus metrics of the worker, served with /healthz on SPINBOT_WORKER_METRICS_PORT.

Every name starts with spinbot_ (deploy/grafana's dashboards query them). Stage durations share
their name with the TypeScript process (spinbot_stage_duration_seconds, which records assembly);
Prometheus tells the two apart by the scrape job. The GPU gauges exist only where a GPU can be read:
on a CPU-only machine they are absent, not zero.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("spinbot_worker")

# *_created series double the output and no dashboard uses them.
disable_created_metrics()
REGISTRY = CollectorRegistry()
ProcessCollector(namespace="spinbot_worker", registry=REGISTRY)

# Same buckets as metrics/index.ts: a tenth of a second (CPU narration) to half an hour (GPU video).
STAGE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
JOB_STATUSES = ("completed", "failed", "cancelled")

JOBS = Counter("spinbot_worker_jobs_total",
               "Job attempts this worker finished: completed, failed (each failed attempt, retried or not), cancelled.",
               ["status"], registry=REGISTRY)
STAGE_SECONDS = Histogram("spinbot_stage_duration_seconds",
                          "Time a stage took for one job (all its scenes), by stage and backend.",
                          ["stage", "backend"], buckets=STAGE_BUCKETS, registry=REGISTRY)
STAGE_FAILURES = Counter("spinbot_worker_stage_failures_total", "Failed job attempts by the stage that failed and the error code.",
                         ["stage", "code"], registry=REGISTRY)
ACTIVE_JOBS = Gauge("spinbot_worker_active_jobs", "Jobs this worker is running now.", registry=REGISTRY)
STAGE_VRAM_PEAK = Gauge("spinbot_stage_vram_peak_bytes",
                        "Most GPU memory in use on the GPU engine's device during the stage of the latest job that ran it "
                        "(all its scenes; ComfyUI's /system_stats, torch's cached but unused memory counted as free).",
                        ["stage", "backend"], registry=REGISTRY)
for _status in JOB_STATUSES:
    JOBS.labels(_status)  # zero series from the start, so that rate() sees the first event


def record_stage(stage: str, backend: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage, backend).observe(seconds)


# (stage, backend) -> (job id, its peak so far): a stage's scenes are separate workflow runs.
_vram_peaks: dict[tuple[str, str], tuple[str, float]] = {}
_vram_lock = threading.Lock()


def record_vram_peak(stage: str, backend: str, job_id: str, used_bytes: float) -> None:
    """One workflow run's peak; the gauge shows the most of the job's runs of this stage."""
    with _vram_lock:
        last_job, peak = _vram_peaks.get((stage, backend), ("", 0.0))
        peak = max(peak, used_bytes) if last_job == job_id else used_bytes
        _vram_peaks[(stage, backend)] = (job_id, peak)
    STAGE_VRAM_PEAK.labels(stage, backend).set(peak)


def record_job(status: str) -> None:
    JOBS.labels(status).inc()


def record_failure(failure: Any) -> None:
    """A StageFailure ended an attempt: CANCELLED counts as cancelled, anything else as failed."""
    record_job("cancelled" if failure.code == "CANCELLED" else "failed")
    STAGE_FAILURES.labels(failure.stage, failure.code).inc()


# --- GPU gauges -------------------------------------------------------------------------------

MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str
    memory_used_bytes: float | None  # None: the driver does not report it (e.g. some MIG set-ups)
    memory_total_bytes: float | None
    utilization_ratio: float | None  # 0..1


GpuReader = Callable[[], Sequence[GpuReading]]

NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.used,memory.total,utilization.gpu",
                    "--format=csv,noheader,nounits"]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def parse_nvidia_smi(text: str) -> list[GpuReading]:
    """Lines like `0, NVIDIA H100 80GB HBM3, 1234, 81559, 7` (MiB, MiB, percent)."""
    readings = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 5:
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        index, name, (used, total, utilization) = parts[0], ", ".join(parts[1:-3]), parts[-3:]
        used_mib, total_mib, percent = _number(used), _number(total), _number(utilization)
        readings.append(GpuReading(
            index=int(index), name=name,
            memory_used_bytes=None if used_mib is None else used_mib * MIB,
            memory_total_bytes=None if total_mib is None else total_mib * MIB,
            utilization_ratio=None if percent is None else percent / 100))
    return readings


def read_nvidia_smi() -> list[GpuReading]:
    done = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=5, check=True)
    return parse_nvidia_smi(done.stdout)


def torch_reader(torch: Any) -> GpuReader:
    """Memory from torch.cuda.mem_get_info; utilization only where torch can read it (needs pynvml)."""
    def read() -> list[GpuReading]:
        readings = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            try:
                utilization = torch.cuda.utilization(index) / 100
            except Exception:  # no pynvml: leave the gauge out rather than report 0
                utilization = None
            readings.append(GpuReading(index, torch.cuda.get_device_name(index), float(total - free), float(total),
                                       utilization))
        return readings
    return read


def default_gpu_reader() -> tuple[GpuReader | None, str]:
    """(reader, what it is) or (None, why not). nvidia-smi first: torch.cuda.mem_get_info would
    create a CUDA context (hundreds of MB of GPU memory) in a worker that may not otherwise use one."""
    if shutil.which("nvidia-smi"):
        try:
            if read_nvidia_smi():
                return read_nvidia_smi, "nvidia-smi"
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            log.warning("nvidia-smi is installed but cannot be read: %s", error)
    try:
        import torch  # noqa: PLC0415 - optional and heavy: only where installed

        if torch.cuda.is_available():
            return torch_reader(torch), "torch.cuda"
    except Exception:  # not installed, or a broken install: no GPU metrics, not a broken worker
        pass
    return None, "no GPU found"


class GpuCollector:
    """Reads the GPUs at each scrape; yields nothing when there are none or the read fails."""

    def __init__(self, reader: GpuReader):
        self.reader = reader
        self._last_error: str | None = None

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            readings = list(self.reader())
            self._last_error = None
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            if message != self._last_error:  # once per distinct problem, not at every scrape
                log.warning("cannot read the GPU for metrics: %s", message)
            self._last_error = message
            return []
        labels = ["gpu", "name"]
        used = GaugeMetricFamily("spinbot_worker_gpu_memory_bytes", "GPU memory in use (whole device).", labels=labels)
        total = GaugeMetricFamily("spinbot_worker_gpu_memory_total_bytes", "GPU memory size.", labels=labels)
        busy = GaugeMetricFamily("spinbot_worker_gpu_utilization_ratio",
                                 "Share of the last sample period the GPU was busy (0-1).", labels=labels)
        for r in readings:
            values = [str(r.index), r.name]
            for family, value in ((used, r.memory_used_bytes), (total, r.memory_total_bytes), (busy, r.utilization_ratio)):
                if value is not None:
                    family.add_metric(values, value)
        return [family for family in (used, total, busy) if family.samples]


# --- /healthz -----------------------------------------------------------------------------------

# More /healthz detail from parts of the worker with something to report (e.g. which GPU workflows
# are ready); informational, never part of "ok". Each returns JSON-able data and must not block.
HEALTH_DETAILS: dict[str, Callable[[], Any]] = {}

class Liveness:
    """The worker's health: its bullmq loop consumes, the event loop answers, Redis answers.
    Called from the HTTP thread; it asks the event loop, so a stuck loop shows as unhealthy."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 2.0):
        self.loop = loop
        self.timeout = timeout
        self.consuming: Callable[[], bool] = lambda: False  # set by attach() once the bullmq worker runs
        self.active_jobs: Callable[[], int] = lambda: 0
        self.redis_ping: Callable[[], Any] | None = None  # a coroutine factory, e.g. client.ping

    def attach(self, worker: Any, running: asyncio.Future, active: Any) -> None:
        """The bullmq Worker, the task running worker.run(), and the worker's ActiveJobs count."""
        self.consuming = lambda: bool(worker.running) and not running.done()
        self.active_jobs = lambda: active.count
        ACTIVE_JOBS.set_function(lambda: active.count)

    def _on_loop(self, coroutine_factory: Callable[[], Any]) -> str | None:
        """None when the coroutine finished on the event loop in time, else why not."""
        async def run():
            return await coroutine_factory()
        try:
            future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        except RuntimeError as error:  # the loop is closed
            return f"RuntimeError: {error}"
        try:
            future.result(self.timeout)
            return None
        except TimeoutError:  # left to run once the loop is free: cancelling it could leave it never awaited
            return f"no answer within {self.timeout:g} s"
        except Exception as error:
            return f"{type(error).__name__}: {error}"

    def __call__(self) -> dict:
        loop_problem = self._on_loop(lambda: asyncio.sleep(0))
        redis_problem = self._on_loop(self.redis_ping) if self.redis_ping and not loop_problem else None
        consuming = self.consuming()
        return {"ok": consuming and not loop_problem and not redis_problem,
                "consuming": consuming,
                "eventLoop": loop_problem or "ok",
                "redis": "unknown" if self.redis_ping is None or loop_problem else redis_problem or "ok",
                "activeJobs": self.active_jobs(),
                **{name: detail() for name, detail in HEALTH_DETAILS.items()}}


# --- the HTTP server ----------------------------------------------------------------------------

class MetricsServer:
    """GET /metrics and GET /healthz in a daemon thread (a scrape never waits for a running job)."""

    def __init__(self, host: str, port: int, health: Callable[[], dict], registry: CollectorRegistry = REGISTRY,
                 gpu_reader: GpuReader | None = None):
        self.registry = registry
        self.gpu_collector = GpuCollector(gpu_reader) if gpu_reader else None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    try:
                        self._reply(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                    except Exception as error:
                        self._reply(500, "text/plain", f"metrics collection failed: {error}\n".encode())
                elif path == "/healthz":
                    try:
                        result = health()
                    except Exception as error:
                        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
                    self._reply(200 if result.get("ok") else 503, "application/json", json.dumps(result).encode())
                else:
                    self._reply(404, "text/plain", b"Not found: try /metrics or /healthz\n")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # a scrape every 15 s would drown the worker's log

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        if self.gpu_collector is not None:
            registry.register(self.gpu_collector)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.port = bound_port
        self.url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="spinbot-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self.gpu_collector is not None:
            self.registry.unregister(self.gpu_collector)
            self.gpu_collector = None


def serve(host: str, port: int | None, health: Callable[[], dict]) -> MetricsServer | None:
    """The worker's metrics server, or None when no port is configured. OSError when it cannot bind."""
    if port is None:
        return None
    reader, source = default_gpu_reader()
    server = MetricsServer(host, port, health, gpu_reader=reader)
    log.info("metrics: serving /metrics and /healthz on %s (GPU gauges: %s)", server.url, source)
    return server
