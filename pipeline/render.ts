// From an approved plan to a stored clip, as durable steps that survive restarts: one BullMQ flow
// per job, the worker's render job (narration and pictures per scene, queue spinbot-gpu) as the
// child of an assembly job (queue spinbot-assemble) that any assembler process runs once the child
// is done (pipeline/assembler.ts). The job id is the same in both queues, so dispatching a job
// twice queues it once.
import { randomBytes } from 'node:crypto';
import { FlowProducer, Job, Queue, QueueEvents } from 'bullmq';
import type { Progress, RenderJob, ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { CONTRACT_VERSION, GPU_QUEUE, GpuJob } from '../gpu-bridge/contracts/index.ts';
import { failureFromReason, GpuQueue, redisOptions } from '../gpu-bridge/producer.ts';
import type { Storage } from '../storage/index.ts';
import { keys } from '../storage/keys.ts';
import { trackRender } from '../metrics/index.ts';
import { isConnectionError, UNAVAILABLE, UserError } from './errors.ts';

export const ASSEMBLE_QUEUE = 'spinbot-assemble';
/** Share of the job's overall progress taken by the worker's stages; assembly takes the rest. */
export const WORKER_SHARE = 85;

export interface RenderRequest {
  plan: ScriptPlan;
  requestedBy: { platform: 'console' | 'cli' | 'discord' | 'telegram' | 'api' | 'test'; userId: string; chatId?: string };
  jobId?: string;
  seed?: number;
  /** A stored reference image (e.g. the user's photo) for image-conditioned visuals. */
  referenceImageKey?: string;
  /** The user's trained style (LoRA), applied by the GPU picture workflow. */
  style?: RenderJob['style'];
  /** Refining a made clip: these 0-based scenes of that job are copied, not rendered again. */
  reuseFrom?: { jobId: string; scenes: number[] };
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface RenderedClip {
  jobId: string;
  key: string;
  /** A local path or a link, from storage.link(). */
  location: string;
  seconds: number;
  bytes: number;
  /** e.g. { tts: "Piper joe-medium (CPU)", visuals: "illustrated (CPU)", music: '"calm_acoustic_1" (immich-memories-music, MIT)' } */
  backends: Record<string, string>;
  /** Per stage, the licence its backend reported (code and model, from setup/models.json). */
  licences?: Record<string, string>;
}

/** What an assembly job carries (the plan is also stored as jobs/<id>/plan.json). */
export interface AssembleJobData {
  jobId: string;
  plan: ScriptPlan;
}

export function newJobId(): string {
  const stamp = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `${stamp}-${randomBytes(5).toString('hex')}`;
}

const KEEP = { removeOnComplete: { age: 7 * 24 * 3600, count: 1000 }, removeOnFail: { age: 30 * 24 * 3600 } };

/**
 * The user's sentence for a failed render. Matched on `name` and `code`, not instanceof: the error
 * may come from another copy of the module or from another process.
 */
export function userErrorFor(error: unknown): unknown {
  const e = error as { name?: string; code?: string; message?: string; detail?: { stage?: string; code?: string; message?: string }; reason?: string } | null;
  // The worker's DISK_FULL is its own sentence, never "The tts stage failed: ...".
  if (e?.code === 'ENOSPC' || e?.detail?.code === 'DISK_FULL' || /ENOSPC|No space left on device/i.test(e?.detail?.message ?? e?.message ?? '')) {
    return new UserError('storage.full', 'The server is out of disk space; the operator has been told.', { cause: error });
  }
  if (e?.name === 'StageFailure' && e.detail) {
    const { stage, code, message } = e.detail;
    if (code === 'CANCELLED') return new UserError('render.cancelled', 'Cancelled.', { cause: error });
    return new UserError(code === 'NO_GPU' ? 'render.noGpu' : 'render.failed', `The ${stage} stage failed: ${message}`, { cause: error });
  }
  if (e?.name === 'QueueFailure') {
    const reason = e.reason ?? '';
    const text = /stalled|lock/i.test(reason)
      ? 'The renderer stopped while making it (it crashed or was restarted) and the queue gave up on it; press Retry or ask again.'
      : `The queue stopped the job (${reason}); please try again.`;
    return new UserError('render.failed', text, { cause: error });
  }
  if (isConnectionError(error)) return new UserError('queue.unavailable', UNAVAILABLE, { cause: error });
  return error;
}

/** The queues of a render (worker stages, then assembly) as one: dispatch, progress, wait, cancel. */
export class RenderQueue {
  readonly gpu: GpuQueue;
  readonly assemble: Queue;
  readonly assembleEvents: QueueEvents;
  private readonly flows: FlowProducer;
  private readonly watchers = new Map<string, Set<(progress: Progress) => void>>();

  constructor(redisUrl: string) {
    const connection = redisOptions(redisUrl);
    this.gpu = new GpuQueue(redisUrl);
    this.assemble = new Queue(ASSEMBLE_QUEUE, { connection });
    this.assembleEvents = new QueueEvents(ASSEMBLE_QUEUE, { connection });
    this.flows = new FlowProducer({ connection });
    // Connection trouble is reported once by the job store; these would otherwise be unhandled.
    for (const emitter of [this.assemble, this.assembleEvents, this.flows, this.gpu.queue, this.gpu.events]) {
      (emitter as unknown as { on(event: 'error', fn: () => void): void }).on('error', () => {});
    }
    this.gpu.events.on('progress', ({ jobId, data }) => {
      const progress = data as Progress;
      if (typeof progress?.overall === 'number') this.emit(jobId, { ...progress, overall: (progress.overall * WORKER_SHARE) / 100 });
    });
    this.assembleEvents.on('progress', ({ jobId, data }) => {
      const progress = data as Progress;
      if (typeof progress?.overall === 'number') this.emit(jobId, progress);
    });
  }

  async ready(): Promise<void> {
    await Promise.all([this.gpu.ready(), this.assemble.waitUntilReady(), this.assembleEvents.waitUntilReady(), this.flows.waitUntilReady()]);
  }

  private emit(jobId: string, progress: Progress): void {
    for (const watcher of this.watchers.get(jobId) ?? []) watcher(progress);
  }

  /** Calls `fn` with the job's progress (whole-job percentages); returns the unsubscribe. */
  watch(jobId: string, fn: (progress: Progress) => void): () => void {
    let set = this.watchers.get(jobId);
    if (!set) this.watchers.set(jobId, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (!set!.size) this.watchers.delete(jobId);
    };
  }

  /** Whether the job was dispatched (and not yet removed by retention or a cancel). */
  async exists(jobId: string): Promise<boolean> {
    return (await this.assemble.getJobState(jobId)) !== 'unknown';
  }

  /**
   * Queues the job (plan stored, reused scenes copied, then the flow added). A job id that is
   * already queued is left as it is: dispatching again is a no-op.
   */
  async dispatch(request: RenderRequest & { jobId: string }, storage: Storage): Promise<'queued' | 'exists'> {
    const { jobId } = request;
    if (await this.exists(jobId)) return 'exists';
    await storage.put(keys.plan(jobId), Buffer.from(JSON.stringify(request.plan, null, 2)), { contentType: 'application/json' });
    const reuseScenes = request.reuseFrom ? await copyScenes(storage, request.reuseFrom, jobId) : [];
    // Cancelled while the scenes were being copied: nothing may reach the queue after the cancel.
    request.signal?.throwIfAborted();
    const render = GpuJob.parse({
      kind: 'render',
      contractVersion: CONTRACT_VERSION,
      jobId,
      requestedBy: request.requestedBy,
      plan: request.plan,
      seed: request.seed ?? 0,
      referenceImageKey: request.referenceImageKey,
      style: request.style,
      reuseScenes,
    });
    const data: AssembleJobData = { jobId, plan: request.plan };
    await this.flows.add({
      name: 'assemble',
      queueName: ASSEMBLE_QUEUE,
      data,
      opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: 2000 }, ...KEEP },
      children: [
        {
          name: render.kind,
          queueName: GPU_QUEUE,
          data: render,
          // A failed render still hands the job to an assembler, which records the failure.
          opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: 2000 }, ignoreDependencyOnFailure: true, ...KEEP },
        },
      ],
    });
    return 'queued';
  }

  /** Resolves with the stored clip once the job is assembled; rejects with the user's sentence. */
  async wait(jobId: string, signal?: AbortSignal): Promise<RenderedClip> {
    signal?.throwIfAborted();
    const job = await Job.fromId(this.assemble, jobId);
    if (!job) throw new UserError('job.notFound', `The job ${jobId} is no longer in the queue.`);
    const aborted = new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
    try {
      return (await Promise.race([job.waitUntilFinished(this.assembleEvents), aborted])) as RenderedClip;
    } catch (error) {
      if (signal?.aborted) throw error;
      const latest = await this.assemble.getJob(jobId);
      throw userErrorFor(failureFromReason(latest?.failedReason ?? (error as Error).message));
    }
  }

  /**
   * 1-based place in line among jobs waiting for the worker; 0 once the job is being worked on
   * (stages or assembly); null when it is unknown or finished.
   */
  async position(jobId: string): Promise<number | null> {
    const gpu = await this.gpu.position(jobId);
    if (gpu !== null) return gpu;
    const state = await this.assemble.getJobState(jobId);
    return state === 'active' || state === 'waiting' || state === 'waiting-children' ? 0 : null;
  }

  /**
   * Cancels a job: still waiting for the worker, the whole flow leaves the queue ('removed'); in
   * the worker, it is told to stop ('signalled'); being assembled or finished: 'finished'.
   */
  async cancel(jobId: string, attempt = 0): Promise<'removed' | 'signalled' | 'finished' | 'unknown'> {
    const state = await this.assemble.getJobState(jobId);
    if (state === 'unknown') return this.gpu.cancel(jobId);
    if (state === 'completed' || state === 'failed' || state === 'active') return 'finished';
    if ((await this.gpu.queue.getJobState(jobId)) === 'active') return this.gpu.cancel(jobId);
    // Parent and child together, unless a worker or an assembler took one in the meantime.
    const removed = await this.assemble.remove(jobId, { removeChildren: true }).catch(() => 0);
    if (removed === 1) return 'removed';
    return attempt < 3 ? this.cancel(jobId, attempt + 1) : 'signalled';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.gpu.close(), this.assembleEvents.close(), this.assemble.close(), this.flows.close()]);
  }
}

/**
 * Renders one job and waits for its clip (the CLI, benches and tests; the chat front-ends watch
 * their jobs through the job records instead). Cancelling the signal takes the job out of the queue.
 */
export async function renderVideo(request: RenderRequest, deps: { queue: RenderQueue; storage: Storage }): Promise<RenderedClip> {
  const jobId = request.jobId ?? newJobId();
  const tracked = trackRender(request.signal);
  const unwatch = deps.queue.watch(jobId, (p) => {
    tracked.progressed();
    request.onProgress?.(p);
  });
  try {
    await deps.queue.dispatch({ ...request, jobId }, deps.storage);
    tracked.queued();
    const clip = await deps.queue.wait(jobId, request.signal);
    tracked.completed();
    return clip;
  } catch (error) {
    tracked.failed(error);
    if (request.signal?.aborted) await deps.queue.cancel(jobId).catch(() => {});
    throw userErrorFor(error);
  } finally {
    unwatch();
  }
}

/**
 * Copies the narration and picture of scenes to keep from an earlier job into this one, so that
 * the worker skips them (reuseScenes). A scene whose files are gone is simply rendered again.
 */
async function copyScenes(storage: Storage, from: { jobId: string; scenes: number[] }, jobId: string): Promise<number[]> {
  const copied: number[] = [];
  for (const index of from.scenes) {
    try {
      const audio = await storage.get(keys.sceneAudio(from.jobId, index));
      const image = await storage.get(keys.sceneImage(from.jobId, index));
      await storage.put(keys.sceneAudio(jobId, index), audio, { contentType: 'audio/wav' });
      await storage.put(keys.sceneImage(jobId, index), image, { contentType: 'image/png' });
      // Its sentence timings too, so a kept scene's subtitles stay timed (renders before them have none).
      const sentences = await storage.get(keys.sceneSentences(from.jobId, index)).catch(() => null);
      if (sentences) await storage.put(keys.sceneSentences(jobId, index), sentences, { contentType: 'application/json' });
      // Its video (the presenter speaking, a motion clip), when it had one: not made again.
      const video = await storage.get(keys.sceneVideo(from.jobId, index)).catch(() => null);
      if (video) await storage.put(keys.sceneVideo(jobId, index), video, { contentType: 'video/mp4' });
      copied.push(index);
    } catch {
      // not stored any more (expired or deleted): rendered again
    }
  }
  return copied;
}
