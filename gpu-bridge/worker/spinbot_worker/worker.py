"""The BullMQ worker process: consume SPINBOT_QUEUE, run each job, report progress and errors.

Facts of the Python bullmq 3.4.4 this relies on (see the report in the worker README):
- Worker(name, processor, opts) must be created inside the running asyncio loop, with
  opts["connection"] the Redis URL string (a client object gives an empty job.data).
- A processor returning normally completes the job (its return value is the job's returnvalue);
  raising UnrecoverableError fails it without retry; any other exception consumes an attempt.
  failedReason is str(exception), so it is exactly the StageError JSON.
- Stalled jobs: each worker renews its jobs' locks (lockDuration ms, checked every
  lockDuration/4, renewed when older than that); every stalledInterval ms a worker moves jobs found active without a lock on
  two successive checks back to wait (up to maxStalledCount times, then fails them). So a
  SIGKILLed worker's job is retried by another worker within about lockDuration + 2 stalledInterval.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis
from bullmq import Worker

from . import metrics
from .backends import BackendRegistry, build_registry, detect_gpu
from .config import CONFIGURABLE_STAGES, Config, ConfigError
from .errors import DiskFull, StageFailure, as_disk_full, unexpected
from .pipeline import handle_job
from .runtime import JobRuntime
from .storage import Storage, open_storage

log = logging.getLogger("spinbot_worker")


def make_registry(config: Config) -> BackendRegistry:
    """CPU backends + plugins; unknown backend names in the configuration are start-up errors."""
    try:
        registry = build_registry(config.plugins)
    except Exception as error:  # ImportError, a plugin's own failure, a duplicate name
        raise ConfigError([f"SPINBOT_BACKEND_PLUGINS: cannot load {', '.join(config.plugins)}: {error}"]) from error
    problems = []
    for stage, variable in CONFIGURABLE_STAGES.items():
        choice = config.backend_choices.get(stage, "auto")
        if not registry.is_known_choice(stage, choice):
            known = ", ".join(["auto", "cpu", "gpu"] + [b.id for b in registry.for_stage(stage)])
            problems.append(f"{variable}={choice!r} is not a known {stage} backend (choose one of: {known})")
    if problems:
        raise ConfigError(problems)
    return registry


def cancel_key(queue: str, job_id: str) -> str:
    """The key the producer sets to stop an active job: GpuQueue.cancelKey in gpu-bridge/producer.ts."""
    return f"bull:{queue}:cancel:{job_id}"


class RedisCancelFlag:
    """The producer's cancel key for one job, read through the worker's shared Redis client."""

    def __init__(self, client: aioredis.Redis, key: str):
        self.client = client
        self.key = key

    async def is_set(self) -> bool:
        try:
            return bool(await self.client.exists(self.key))
        except Exception as error:  # a Redis hiccup must not fail the render: look again next step
            log.warning("cannot read the cancel key %s: %s: %s", self.key, type(error).__name__, error)
            return False

    async def clear(self) -> None:
        try:
            await self.client.delete(self.key)
        except Exception as error:  # it expires on its own (after a day)
            log.warning("cannot delete the cancel key %s: %s: %s", self.key, type(error).__name__, error)


class ActiveJobs:
    """How many jobs this process is running right now (bullmq counts its idle fetch too)."""

    def __init__(self) -> None:
        self.count = 0


def make_processor(config: Config, registry: BackendRegistry, storage: Storage, active: ActiveJobs,
                   redis_client: aioredis.Redis | None = None):
    async def process(job, token):
        data = job.data
        job_id = data.get("jobId") if isinstance(data, dict) and isinstance(data.get("jobId"), str) else str(job.id)
        kind = data.get("kind") if isinstance(data, dict) else None
        attempt = job.attemptsMade + 1
        started = time.monotonic()
        log.info("job %s start (kind=%s, attempt %d)", job.id, kind, attempt)
        active.count += 1
        try:
            return await _run(job, data, job_id, started, attempt)
        finally:
            active.count -= 1

    async def _run(job, data, job_id, started, attempt):
        # The producer cancels by the BullMQ job id (the contract's jobId for jobs it submits).
        cancel_flag = RedisCancelFlag(redis_client, cancel_key(config.queue, str(job.id))) if redis_client else None
        with tempfile.TemporaryDirectory(prefix="spinbot-job-") as workdir:
            rt = JobRuntime(job_id=job_id, storage=storage, registry=registry, workdir=Path(workdir),
                            send_progress=job.updateProgress, attempt=attempt,
                            operator_choices=config.backend_choices, cancel_flag=cancel_flag)
            try:
                result = await handle_job(data, rt)
                if cancel_flag is not None:
                    await cancel_flag.clear()  # a cancel that came after the last step: too late
            except StageFailure as caught:
                failure = as_disk_full(caught)
                _log_failure(job, failure, started, config.data_dir)
                raise failure.to_queue_error() from failure
            except Exception as error:  # e.g. Redis errors while reporting progress
                failure = unexpected(rt.stage, error)
                _log_failure(job, failure, started, config.data_dir)
                raise failure.to_queue_error() from error
        log.info("job %s finished in %.1f s", job.id, time.monotonic() - started)
        metrics.record_job("completed")
        return result

    return process


def _free_space(data_dir: Path | None) -> str:
    """e.g. "data dir /srv/data 0 B, temp /tmp 4.1 GB": where the worker writes, and what is left there."""
    places = [("data dir", data_dir)] if data_dir and str(data_dir) not in ("", ".") else []
    places.append(("temp", Path(tempfile.gettempdir())))
    described = []
    for label, path in places:
        try:
            free = shutil.disk_usage(path).free
        except OSError:
            continue
        size = next((f"{free / 1024**i:.1f} {unit}" for i, unit in ((3, "GB"), (2, "MB"), (1, "KB")) if free >= 1024**i), f"{free} B")
        described.append(f"{label} {path} {size}")
    return ", ".join(described) or "unknown"


def _log_failure(job, failure: StageFailure, started: float, data_dir: Path | None = None) -> None:
    metrics.record_failure(failure)
    if isinstance(failure, DiskFull):
        # The one line the operator needs: which disk is full, and that jobs fail until space is freed.
        log.error("DISK FULL: no space left on device (%s) during the %s stage of job %s; free space: %s. "
                  "The job failed with DISK_FULL; jobs will fail until space is freed", failure.where, failure.stage,
                  job.id, _free_space(data_dir))
        return
    log.warning("job %s failed in %.1f s: stage=%s code=%s retryable=%s: %s", job.id, time.monotonic() - started,
                failure.stage, failure.code, failure.retryable, failure.message)


async def _check_redis(config: Config) -> str | None:
    """None when Redis answers a PING, else why not (without the password)."""
    client = aioredis.from_url(config.redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
        return None
    except Exception as error:
        return f"{type(error).__name__}: {error}".replace(config.redis_url, config.redis_url_for_logs)
    finally:
        await client.aclose()


async def run_worker(config: Config) -> int:
    """Consume jobs until SIGTERM/SIGINT; returns the process exit code."""
    registry = make_registry(config)
    try:
        storage = open_storage(config)
    except Exception as error:  # unreachable object storage, bad credentials: say so and stop
        log.error("cannot open storage: %s: %s", type(error).__name__, error)
        return 1
    log.info("storage: %s", storage.describe())
    gpu = detect_gpu()
    log.info("GPU: %s", gpu or "none detected")
    problem = await _check_redis(config)
    if problem:
        log.error("cannot reach Redis at %s: %s", config.redis_url_for_logs, problem)
        return 1

    liveness = metrics.Liveness(asyncio.get_running_loop())
    try:
        metrics_server = metrics.serve(config.metrics_host, config.metrics_port, liveness)
    except OSError as error:  # e.g. the port is taken: the operator asked for metrics, so stop
        log.error("cannot serve metrics on %s:%s (SPINBOT_WORKER_METRICS_PORT): %s", config.metrics_host,
                  config.metrics_port, error)
        return 1

    # One client for the whole process (cancel checks); bullmq opens its own connections.
    redis_client = aioredis.from_url(config.redis_url)
    liveness.redis_ping = redis_client.ping
    try:
        return await _consume(config, registry, storage, redis_client, liveness)
    finally:
        if metrics_server is not None:
            await asyncio.to_thread(metrics_server.close)
        await redis_client.aclose()


async def _consume(config: Config, registry: BackendRegistry, storage: Storage, redis_client: aioredis.Redis,
                   liveness: metrics.Liveness | None = None) -> int:
    active = ActiveJobs()
    worker = Worker(config.queue, make_processor(config, registry, storage, active, redis_client), {
        "connection": config.redis_url,
        "concurrency": config.concurrency,
        "lockDuration": config.lock_duration_ms,
        "stalledInterval": config.stalled_interval_ms,
        "maxStalledCount": config.max_stalled_count,
        "autorun": False,
    })
    worker.on("error", lambda error, *rest: log.error("bullmq: %s", error))
    worker.on("stalled", lambda job_id, *rest: log.warning("job %s stalled (its worker died?); back to wait", job_id))

    stop = asyncio.Event()
    stop_count = 0

    def on_signal(signum: int) -> None:
        nonlocal stop_count
        stop_count += 1
        if stop_count == 1:
            log.info("%s: finishing the current job, then exiting (send again to stop at once)", signal.Signals(signum).name)
            stop.set()
        else:
            # Abandon the job: its lock expires and another worker picks it up.
            log.warning("%s again: stopping now", signal.Signals(signum).name)
            asyncio.ensure_future(worker.close(force=True))

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)

    running = asyncio.ensure_future(worker.run())
    if liveness is not None:
        liveness.attach(worker, running, active)
    # Ready means consuming: worker.running turns True once run() has registered and started its
    # lock and stalled-job timers (closing before that leaves run() reconnecting for seconds).
    while not worker.running and not running.done():
        await asyncio.sleep(0.01)
    # One stalled-job check now rather than after stalledInterval: jobs that a supervisor handed
    # back from a dead worker (its locks released) go back to wait and run here at once.
    await worker.runStalledJobsCheck()
    backends = ", ".join(f"{stage}={registry.describe(stage, config.backend_choices[stage])}" for stage in CONFIGURABLE_STAGES)
    # worker=: the prefix of this worker's job locks, so that a supervisor that sees it die can
    # hand its jobs back at once instead of waiting for the locks to expire (pipeline/services.ts).
    print(f"spinbot worker ready (queue={config.queue}, worker={worker.id}, concurrency={config.concurrency}, "
          f"backends: {backends})", flush=True)
    log.info("consuming %s on %s", config.queue, config.redis_url_for_logs)

    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({running, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if running.done() and not stop.is_set():
        log.error("the bullmq worker loop ended unexpectedly")
        await worker.close(force=True)
        return 1
    await _close_gracefully(worker, active)
    await asyncio.gather(running, return_exceptions=True)
    if stop_count > 1:
        # A backend call may still be running in its thread, and Python waits for threads at exit:
        # leave now. The abandoned job's lock expires and another worker runs it again.
        log.info("worker closed; abandoned the running job")
        logging.shutdown()
        os._exit(0)
    log.info("worker closed")
    return 0


async def _close_gracefully(worker: Worker, active: ActiveJobs) -> None:
    """Let the running job finish, then close. bullmq's graceful close also waits for its idle
    blocking fetch, which can take many seconds; once no job is running, forcing loses nothing."""
    closing = asyncio.ensure_future(worker.close())
    while not closing.done():
        await asyncio.wait({closing}, timeout=0.5)
        if not closing.done() and active.count == 0:
            await worker.close(force=True)
            break
    await asyncio.gather(closing, return_exceptions=True)


def configure_logging() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s spinbot-worker %(levelname)s %(message)s")
