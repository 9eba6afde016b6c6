// The TypeScript end of the GPU queue: validates a job against the contract, enqueues it, and
// turns the worker's queue events into typed progress, results and stage errors.
import { Queue, QueueEvents, type Job } from 'bullmq';
import {
  GPU_QUEUE,
  GpuJob,
  Progress,
  RenderResult,
  StageError,
  type GpuJobInput,
} from './contracts/index.ts';

/** ioredis options from a redis:// URL (BullMQ opens its own connections from these). */
export function redisOptions(url: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    // BullMQ requires this for blocking connections; it retries forever instead of failing a call.
    maxRetriesPerRequest: null,
  };
}

/** A job that ended in failure, with the stage that failed and whether a retry could help. */
export class StageFailure extends Error {
  override readonly name = 'StageFailure';
  constructor(readonly detail: StageError) {
    super(detail.message);
  }
}

/** A job the queue itself gave up on (e.g. "job stalled more than allowable limit"): no stage to blame. */
export class QueueFailure extends Error {
  override readonly name = 'QueueFailure';
  constructor(readonly reason: string) {
    super(reason);
  }
}

export type FailedReason = { kind: 'stage'; error: StageError } | { kind: 'queue'; reason: string };

/**
 * The worker reports failures as JSON-encoded StageError objects; BullMQ may hand them back as a
 * JSON string inside a string. Anything else is the queue's own reason (a stalled or lost job, a
 * crash without a report): it is kept as it is, not blamed on a stage.
 */
export function parseFailedReason(reason: string | undefined): FailedReason {
  let value: unknown = reason ?? '';
  for (let i = 0; i < 2 && typeof value === 'string'; i++) {
    try {
      value = JSON.parse(value);
    } catch {
      break;
    }
  }
  const parsed = StageError.safeParse(value);
  if (parsed.success) return { kind: 'stage', error: parsed.data };
  const message = typeof value === 'string' && value ? value : 'the job ended without a reason';
  return { kind: 'queue', reason: message.slice(0, 500) };
}

/** The error a failed job's reason becomes: a StageFailure when a stage reported it, else a QueueFailure. */
export function failureFromReason(reason: string | undefined): StageFailure | QueueFailure {
  const parsed = parseFailedReason(reason);
  return parsed.kind === 'stage' ? new StageFailure(parsed.error) : new QueueFailure(parsed.reason);
}

export interface WaitOptions {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export class GpuQueue {
  readonly queue: Queue;
  readonly events: QueueEvents;
  private readonly progressListeners = new Map<string, (progress: Progress) => void>();

  constructor(redisUrl: string, queueName = GPU_QUEUE) {
    const connection = redisOptions(redisUrl);
    this.queue = new Queue(queueName, { connection });
    this.events = new QueueEvents(queueName, { connection });
    // One listener for all jobs; each waiting caller registers for its own job id.
    this.events.on('progress', ({ jobId, data }) => {
      const listener = this.progressListeners.get(jobId);
      const progress = Progress.safeParse(data);
      if (listener && progress.success) listener(progress.data);
    });
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  /**
   * Validate and enqueue. Bad input throws before anything reaches Redis. The job id is the
   * contract's jobId, so submitting the same job twice enqueues it once.
   */
  async submit(input: GpuJobInput): Promise<Job> {
    const job = GpuJob.parse(input);
    return this.queue.add(job.kind, job, {
      jobId: job.jobId,
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  /** Resolves with the worker's validated result; rejects with a StageFailure. */
  async waitForRender(job: Job, options: WaitOptions = {}): Promise<RenderResult> {
    return this.waitForResult(job, RenderResult, options);
  }

  /** Resolves with the worker's result of any job kind, validated by `result` (e.g. TranscribeResult). */
  async waitForResult<T>(job: Job, result: { parse(value: unknown): T }, options: WaitOptions = {}): Promise<T> {
    const jobId = job.id!;
    // A signal that was aborted before this call never fires 'abort' again.
    if (options.signal?.aborted) throw options.signal.reason;
    if (options.onProgress) this.progressListeners.set(jobId, options.onProgress);
    try {
      const finished = job.waitUntilFinished(this.events);
      const aborted = new Promise<never>((_, reject) => {
        options.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
      });
      const value = await Promise.race([finished, aborted]).catch(async (error: unknown) => {
        if (options.signal?.aborted) throw error;
        const latest = await this.queue.getJob(jobId);
        throw failureFromReason(latest?.failedReason ?? (error as Error).message);
      });
      return result.parse(value);
    } finally {
      this.progressListeners.delete(jobId);
    }
  }

  /** 1-based place in line among waiting jobs, 0 when running, null when unknown/finished. */
  async position(jobId: string): Promise<number | null> {
    const state = await this.queue.getJobState(jobId);
    if (state === 'active') return 0;
    if (state !== 'waiting' && state !== 'prioritized') return null;
    const waiting = await this.queue.getWaiting();
    // getWaiting lists newest first; the worker takes the oldest.
    const index = waiting.reverse().findIndex((j) => j.id === jobId);
    return index < 0 ? null : index + 1;
  }

  /**
   * Cancels a job: a waiting job is removed from the queue at once ('removed'); an active one
   * cannot be taken from the worker from here, so a cancel flag is set in Redis for the worker to
   * check between stages ('signalled', key: cancelKey(jobId), expires after a day). 'finished'
   * when it already completed or failed, 'unknown' when there is no such job.
   */
  async cancel(jobId: string): Promise<'removed' | 'signalled' | 'finished' | 'unknown'> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const state = await this.queue.getJobState(jobId);
      if (state === 'unknown') return 'unknown';
      if (state === 'completed' || state === 'failed') return 'finished';
      if (state !== 'active') {
        // 1 removed; 0 when the worker took (locked) it in the meantime: look again.
        if ((await this.queue.remove(jobId)) === 1) return 'removed';
        continue;
      }
      const client = await this.queue.getBackend().client;
      await client.set(this.cancelKey(jobId), '1', { EX: 24 * 3600 });
      return 'signalled';
    }
    return 'signalled';
  }

  /** The Redis key the worker checks to stop an active job (e.g. bull:spinbot-gpu:cancel:<jobId>). */
  cancelKey(jobId: string): string {
    return this.queue.toKey(`cancel:${jobId}`);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }
}
