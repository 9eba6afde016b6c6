// The running product behind every front-end: storage, the queue and its worker, and the planner,
// opened once and closed once. Front-ends (console, CLI; later Discord, Telegram) only call this.
import type { Progress } from '../gpu-bridge/contracts/index.ts';
import { GpuQueue } from '../gpu-bridge/producer.ts';
import type { Storage } from '../storage/index.ts';
import { createStorage, storageEnvFor } from '../storage/select.ts';
import { renderVideo, type RenderRequest, type RenderedClip } from './render.ts';
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
}

export interface Studio {
  storage: Storage;
  queue: GpuQueue;
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
  const queue = new GpuQueue(services.redisUrl);
  try {
    await queue.ready();
  } catch (error) {
    await services.stop();
    throw error;
  }
  const metrics = await serveStudioMetrics(metricsAt, queue).catch(async (error: unknown) => {
    await queue.close();
    await services.stop();
    throw error;
  });
  let closing: Promise<void> | undefined;
  return {
    storage,
    queue,
    services,
    metrics,
    render: (request, onProgress) => renderVideo({ ...request, onProgress }, { queue, storage }),
    close: () =>
      (closing ??= Promise.all([metrics?.close(), queue.close()])
        .then(() => services.stop())
        // S3 keeps keep-alive sockets; the filesystem has nothing to close.
        .then(() => (storage as { close?: () => void }).close?.())),
  };
}
