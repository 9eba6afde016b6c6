// The studio's metrics endpoint: queue depth read from its BullMQ queue at each scrape, and a
// health check that says whether Redis answers (the process cannot take or track jobs without it).
import type { GpuQueue } from '../gpu-bridge/producer.ts';
import { observeQueue, withTimeout } from './index.ts';
import { startMetricsServer, type Health, type MetricsServer, type MetricsSettings } from './server.ts';

const PING_TIMEOUT_MS = 2000;

export async function redisHealth(queue: GpuQueue): Promise<Health> {
  try {
    const client = await withTimeout(queue.queue.getBackend().client, PING_TIMEOUT_MS);
    // Not connected: ioredis would hold the command until it reconnects, so do not wait for it.
    if (client.status !== 'ready') return { ok: false, redis: `not connected (${client.status})` };
    // A real round trip (BullMQ's client interface has no PING): read the queue's meta hash.
    await withTimeout(client.hgetall(queue.queue.toKey('meta')), PING_TIMEOUT_MS);
    return { ok: true, redis: 'ok' };
  } catch (error) {
    return { ok: false, redis: (error as Error).message };
  }
}

/** Starts the server when `settings` is not null; close() also stops reading this queue. */
export async function serveStudioMetrics(settings: MetricsSettings | null, queue: GpuQueue): Promise<MetricsServer | null> {
  if (!settings) return null;
  const stopObserving = observeQueue(async () => {
    const counts = await queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
    // Prioritized jobs wait too; BullMQ just keeps them in their own set.
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active, delayed: counts.delayed, failed: counts.failed };
  });
  try {
    const server = await startMetricsServer(settings, () => redisHealth(queue));
    return {
      url: server.url,
      close: async () => {
        stopObserving();
        await server.close();
      },
    };
  } catch (error) {
    stopObserving();
    throw error;
  }
}
