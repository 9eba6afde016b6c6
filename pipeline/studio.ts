// The running product behind every front-end: storage, the queues and their worker, an assembler,
// and the job records, opened once and closed once. Front-ends (console, CLI, Discord, Telegram)
// only call this.
import type { Progress } from '../gpu-bridge/contracts/index.ts';
import type { GpuQueue } from '../gpu-bridge/producer.ts';
import type { Storage } from '../storage/index.ts';
import { createStorage, storageEnvFor } from '../storage/select.ts';
import { startAssembler, type Assembler } from './assembler.ts';
import { JobStore } from './job-store.ts';
import { RenderQueue, renderVideo, type RenderRequest, type RenderedClip } from './render.ts';
import { startServices, type Services } from './services.ts';
import { metricsSettings, type MetricsServer } from '../metrics/server.ts';
import { serveStudioMetrics } from '../metrics/studio.ts';

export interface StudioOptions {
  dataDir: string;
  /** Where redis keeps its append-only file and where logs go; none in tests. */
  stateDir?: string;
  /** Use this Redis instead of starting a private one. */
  redisUrl?: string;
  workerEnv?: Record<string, string>;
  /** Where the storage settings (S3_*) come from; default process.env. Unset: files under dataDir. */
  env?: Record<string, string | undefined>;
  /** Run an assembler in this process (default yes; SPINBOT_LOCAL_ASSEMBLER=false in env turns it off). */
  assembler?: boolean;
  /** Where the job store and the assembler log (default stderr). */
  log?: (line: string) => void;
}

export interface Studio {
  storage: Storage;
  /** The worker's queue (stages). */
  queue: GpuQueue;
  /** A render's queues as one: dispatch, progress, wait, cancel. */
  renders: RenderQueue;
  /** Job records and the delivery outbox. */
  jobs: JobStore;
  /** The assembler of this process; null when assembly runs elsewhere. */
  assembler: Assembler | null;
  services: Services;
  /** /metrics and /healthz, when SPINBOT_METRICS_PORT is set; null otherwise. */
  metrics: MetricsServer | null;
  render(request: Omit<RenderRequest, 'onProgress'>, onProgress?: (p: Progress) => void): Promise<RenderedClip>;
  close(): Promise<void>;
}

export async function openStudio(options: StudioOptions): Promise<Studio> {
  // First: a bad storage setting fails before any process starts.
  const env = options.env ?? process.env;
  const storage = await createStorage(env, { dataDir: options.dataDir });
  const metricsAt = metricsSettings(env);
  const services = await startServices({
    dataDir: options.dataDir,
    stateDir: options.stateDir,
    redisUrl: options.redisUrl,
    // The worker reads and writes the same store.
    workerEnv: { ...storageEnvFor(env), ...options.workerEnv },
    // In the compose stack the worker is its own container (with the GPU); the bot starts none.
    localWorker: !/^(?:false|0|no)$/i.test(env.SPINBOT_LOCAL_WORKER ?? ''),
  });
  const renders = new RenderQueue(services.redisUrl);
  const queue = renders.gpu;
  const jobs = new JobStore(services.redisUrl, { log: options.log });
  const stopQueues = async () => {
    await Promise.allSettled([renders.close(), jobs.close()]);
    await services.stop();
  };
  try {
    await Promise.all([renders.ready(), jobs.ready()]);
  } catch (error) {
    await stopQueues();
    throw error;
  }
  // Assembly runs beside the worker: any studio can finish any job, so a job whose bot stopped is
  // assembled by the next one that starts (or by an assembler elsewhere).
  const assemble = options.assembler ?? !/^(?:false|0|no)$/i.test(env.SPINBOT_LOCAL_ASSEMBLER ?? '');
  const positive = (value: string | undefined) => (value && Number(value) > 0 ? Number(value) : undefined);
  const assembler = assemble
    ? startAssembler({
        redisUrl: services.redisUrl,
        storage,
        store: jobs,
        log: options.log,
        lockDurationMs: positive(env.SPINBOT_LOCK_DURATION_MS),
        stalledIntervalMs: positive(env.SPINBOT_STALLED_INTERVAL_MS),
      })
    : null;
  const metrics = await serveStudioMetrics(metricsAt, queue).catch(async (error: unknown) => {
    await assembler?.close();
    await stopQueues();
    throw error;
  });
  let closing: Promise<void> | undefined;
  return {
    storage,
    queue,
    renders,
    jobs,
    assembler,
    services,
    metrics,
    render: (request, onProgress) => renderVideo({ ...request, onProgress }, { queue: renders, storage }),
    close: () =>
      (closing ??= Promise.all([metrics?.close(), assembler?.close()])
        .then(() => Promise.allSettled([renders.close(), jobs.close()]))
        .then(() => services.stop())
        // S3 keeps keep-alive sockets; the filesystem has nothing to close.
        .then(() => (storage as { close?: () => void }).close?.())),
  };
}
