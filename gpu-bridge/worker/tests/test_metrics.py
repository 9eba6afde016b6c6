"""The worker's /metrics and /healthz: what Prometheus and the container health check would see."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from spinbot_worker import metrics
from spinbot_worker.config import ConfigError, load_config
from spinbot_worker.metrics import GpuReading, Liveness, MetricsServer
from support import contract_fixture, enqueue, run_async, wait_finished


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels...): value} parsed with Prometheus' own text parser."""
    return {(s.name, *sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeGpuReader:
    """FAKE: stands in for nvidia-smi / torch.cuda on a machine without a GPU."""

    def __init__(self, readings=None, error: Exception | None = None):
        self.readings = readings or []
        self.error = error
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.error:
            raise self.error
        return self.readings


@pytest.fixture
def serve():
    servers: list[MetricsServer] = []

    def start(health=lambda: {"ok": True}, **options) -> MetricsServer:
        registry = options.pop("registry", CollectorRegistry())
        server = MetricsServer("127.0.0.1", 0, health, registry=registry, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_without_a_gpu_the_gpu_gauges_are_absent(serve, monkeypatch):
    # What the worker picks on a machine with neither nvidia-smi nor torch (this one):
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails
    reader, why = metrics.default_gpu_reader()
    assert reader is None and why == "no GPU found"

    server = serve(registry=metrics.REGISTRY, gpu_reader=reader)
    status, text = get(f"{server.url}/metrics")
    assert status == 200
    assert "spinbot_worker_jobs_total" in text
    assert "spinbot_worker_gpu" not in text  # absent, not a misleading 0


def test_with_a_gpu_the_gauges_report_memory_and_utilization(serve):
    fake = FakeGpuReader([
        GpuReading(0, "NVIDIA H100 80GB HBM3", memory_used_bytes=2 * 1024**3, memory_total_bytes=80 * 1024**3,
                   utilization_ratio=0.37),
        GpuReading(1, "NVIDIA H100 80GB HBM3", memory_used_bytes=0.0, memory_total_bytes=80 * 1024**3,
                   utilization_ratio=None),  # not reported: left out, not shown as idle
    ])
    server = serve(gpu_reader=fake)
    status, text = get(f"{server.url}/metrics")
    assert status == 200
    got = samples(text)
    gpu0 = (("gpu", "0"), ("name", "NVIDIA H100 80GB HBM3"))
    gpu1 = (("gpu", "1"), ("name", "NVIDIA H100 80GB HBM3"))
    assert got[("spinbot_worker_gpu_memory_bytes", *gpu0)] == 2 * 1024**3
    assert got[("spinbot_worker_gpu_memory_total_bytes", *gpu0)] == 80 * 1024**3
    assert got[("spinbot_worker_gpu_utilization_ratio", *gpu0)] == pytest.approx(0.37)
    assert got[("spinbot_worker_gpu_memory_bytes", *gpu1)] == 0
    assert ("spinbot_worker_gpu_utilization_ratio", *gpu1) not in got
    # Read at each scrape, not once at start-up.
    get(f"{server.url}/metrics")
    assert fake.calls == 2


def test_a_gpu_that_cannot_be_read_does_not_break_the_scrape(serve, caplog):
    registry = CollectorRegistry()
    Counter("spinbot_probe_total", "probe", registry=registry).inc()
    server = serve(registry=registry, gpu_reader=FakeGpuReader(error=RuntimeError("NVML: driver/library version mismatch")))
    for _ in range(3):
        status, text = get(f"{server.url}/metrics")
        assert status == 200
        assert "spinbot_probe_total 1.0" in text and "spinbot_worker_gpu" not in text
    # Logged once, not at every scrape.
    assert sum("driver/library version mismatch" in r.getMessage() for r in caplog.records) == 1


def test_closing_the_server_removes_its_gpu_collector(serve):
    registry = CollectorRegistry()
    server = MetricsServer("127.0.0.1", 0, lambda: {"ok": True}, registry=registry,
                           gpu_reader=FakeGpuReader([GpuReading(0, "FAKE GPU", 1.0, 2.0, 0.5)]))
    server.close()
    # A second server (e.g. a restarted worker in one test process) can register its own again.
    second = serve(registry=registry, gpu_reader=FakeGpuReader([GpuReading(0, "FAKE GPU", 1.0, 2.0, 0.5)]))
    assert "spinbot_worker_gpu_memory_bytes" in get(f"{second.url}/metrics")[1]


def test_nvidia_smi_output_is_parsed_into_bytes_and_ratios():
    # Lines in the format of `nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu
    # --format=csv,noheader,nounits` (MiB, MiB, percent), written by hand: this machine has no GPU.
    text = "0, NVIDIA H100 80GB HBM3, 1024, 81559, 7\n1, NVIDIA A100-SXM4-40GB, [N/A], 40960, [N/A]\n\n"
    first, second = metrics.parse_nvidia_smi(text)
    assert first == GpuReading(0, "NVIDIA H100 80GB HBM3", 1024 * 1024**2, 81559 * 1024**2, 0.07)
    assert (second.index, second.memory_used_bytes, second.memory_total_bytes, second.utilization_ratio) == \
        (1, None, 40960 * 1024**2, None)
    with pytest.raises(ValueError):
        metrics.parse_nvidia_smi("No devices were found")


@pytest.fixture
def running_loop():
    """An asyncio loop in a thread, as the worker's main loop is seen from the HTTP thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    # Health probes that timed out still wait on the loop: let them finish before closing it.
    pending = asyncio.all_tasks(loop)
    if pending:
        loop.run_until_complete(asyncio.wait(pending))
    loop.close()


def test_a_stages_vram_peak_is_the_most_of_one_jobs_runs_and_starts_again_for_the_next_job(serve):
    server = serve(registry=metrics.REGISTRY)

    def peak() -> float:
        return samples(get(f"{server.url}/metrics")[1])[("spinbot_stage_vram_peak_bytes", ("backend", "comfyui-visuals"),
                                                        ("stage", "visuals"))]

    # Two scenes of one job: the gauge keeps the larger; the next job's smaller peak replaces it.
    metrics.record_vram_peak("visuals", "comfyui-visuals", "job-a", 9e9)
    metrics.record_vram_peak("visuals", "comfyui-visuals", "job-a", 7e9)
    assert peak() == 9e9
    metrics.record_vram_peak("visuals", "comfyui-visuals", "job-b", 5e9)
    assert peak() == 5e9


def test_healthz_is_503_until_the_worker_consumes_then_200(serve, running_loop):
    liveness = Liveness(running_loop, timeout=1)
    server = serve(health=liveness)
    status, body = get(f"{server.url}/healthz")
    assert status == 503 and json.loads(body)["consuming"] is False

    liveness.consuming = lambda: True
    status, body = get(f"{server.url}/healthz")
    assert status == 200
    assert json.loads(body) == {"ok": True, "consuming": True, "eventLoop": "ok", "redis": "unknown", "activeJobs": 0}


def test_healthz_is_503_when_redis_or_the_event_loop_does_not_answer(serve, running_loop):
    liveness = Liveness(running_loop, timeout=1)
    liveness.consuming = lambda: True

    async def refused():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    liveness.redis_ping = refused
    server = serve(health=liveness)
    status, body = get(f"{server.url}/healthz")
    assert status == 503 and "Connection refused" in json.loads(body)["redis"]

    async def pong():
        return True

    liveness.redis_ping = pong
    assert get(f"{server.url}/healthz")[0] == 200

    # A backend that blocks the event loop (instead of running in its thread) stops lock renewal.
    running_loop.call_soon_threadsafe(time.sleep, 2)
    status, body = get(f"{server.url}/healthz")
    assert status == 503 and "no answer" in json.loads(body)["eventLoop"]


def test_unknown_paths_are_404(serve):
    server = serve()
    assert get(f"{server.url}/")[0] == 404


def test_the_port_setting_is_validated(tmp_path):
    base = {"REDIS_URL": "redis://127.0.0.1:6379", "SPINBOT_DATA_DIR": str(tmp_path)}
    assert load_config(base).metrics_port is None
    config = load_config({**base, "SPINBOT_WORKER_METRICS_PORT": "9465", "SPINBOT_METRICS_HOST": "0.0.0.0"})
    assert (config.metrics_port, config.metrics_host) == (9465, "0.0.0.0")
    for bad in ("http", "70000", "-1"):
        with pytest.raises(ConfigError, match="SPINBOT_WORKER_METRICS_PORT"):
            load_config({**base, "SPINBOT_WORKER_METRICS_PORT": bad})


def test_a_real_worker_counts_its_jobs_and_times_its_stages(start_worker, redis_url, queue_name):
    port = free_port()
    worker = start_worker(SPINBOT_WORKER_METRICS_PORT=port)
    assert f"metrics: serving /metrics and /healthz on http://127.0.0.1:{port}" in worker.log()
    status, body = get(f"http://127.0.0.1:{port}/healthz")
    assert status == 200, body
    assert json.loads(body)["redis"] == "ok"

    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json")))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert job.failedReason is None, job.failedReason

    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    got = samples(text)
    assert got[("spinbot_worker_jobs_total", ("status", "completed"))] == 1
    assert got[("spinbot_worker_jobs_total", ("status", "failed"))] == 0
    for stage, backend in (("tts", "piper"), ("visuals", "title-card"), ("upscale", "realesrgan")):
        key = ("spinbot_stage_duration_seconds_count", ("backend", backend), ("stage", stage))
        assert got.get(key) == 1, f"no {stage} duration recorded: {sorted(k for k in got if 'stage' in k[0])}"
        assert got[("spinbot_stage_duration_seconds_sum", ("backend", backend), ("stage", stage))] > 0
    assert got[("spinbot_worker_active_jobs",)] == 0
    assert worker.terminate() == 0


def test_a_real_worker_counts_failed_attempts_by_stage_and_code(start_worker, redis_url, queue_name):
    port = free_port()
    start_worker(SPINBOT_WORKER_METRICS_PORT=port, SPINBOT_UPSCALE_BACKEND="fake-unrecoverable")
    job_id = run_async(enqueue(redis_url, queue_name, contract_fixture("valid-render.json"), attempts=3))
    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert "BACKEND_UNAVAILABLE" in job.failedReason

    got = samples(get(f"http://127.0.0.1:{port}/metrics")[1])
    assert got[("spinbot_worker_jobs_total", ("status", "failed"))] == 1  # unrecoverable: one attempt only
    assert got[("spinbot_worker_jobs_total", ("status", "completed"))] == 0
    assert got[("spinbot_worker_stage_failures_total", ("code", "BACKEND_UNAVAILABLE"), ("stage", "upscale"))] == 1


def test_a_taken_port_stops_the_worker_with_a_clear_error(start_worker):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        worker = start_worker(wait=False, SPINBOT_WORKER_METRICS_PORT=taken.getsockname()[1])
        assert worker.process.wait(timeout=30) == 1
    assert "cannot serve metrics on 127.0.0.1" in worker.log()
