// The running product behind every front-end: storage, the queue and its worker, and the planner,
// opened once and closed once. Front-ends (console, CLI; later Discord, Telegram) only call this.
import type { Progress } from '../gpu-bridge/contracts/index.ts';
import { GpuQueue } from '../gpu-bridge/producer.ts';
import { FsStorage } from '../storage/fs.ts';
import { renderVideo, type RenderRequest, type RenderedClip } from './render.ts';
import { startServices, type Services } from './services.ts';

export interface StudioOptions {
  dataDir: string;
  /** Where redis keeps its append-only file and where logs go; none in tests. */
  stateDir?: string;
  /** Use this Redis instead of starting a private one. */
  redisUrl?: string;
  workerEnv?: Record<string, string>;
}

export interface Studio {
  storage: FsStorage;
  queue: GpuQueue;
  services: Services;
  render(request: Omit<RenderRequest, 'onProgress'>, onProgress?: (p: Progress) => void): Promise<RenderedClip>;
  close(): Promise<void>;
}

export async function openStudio(options: StudioOptions): Promise<Studio> {
  const services = await startServices({
    dataDir: options.dataDir,
    stateDir: options.stateDir,
    redisUrl: options.redisUrl,
    workerEnv: options.workerEnv,
  });
  const storage = new FsStorage(options.dataDir);
  const queue = new GpuQueue(services.redisUrl);
  try {
    await queue.ready();
  } catch (error) {
    await services.stop();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    storage,
    queue,
    services,
    render: (request, onProgress) => renderVideo({ ...request, onProgress }, { queue, storage }),
    close: () => (closing ??= queue.close().then(() => services.stop())),
  };
}
