// The assembly step of a render: a BullMQ worker of its own queue (spinbot-assemble), so any number
// of assemblers can run, in any process on any host, and a job whose assembler died is taken up by
// the next one (BullMQ's stalled-job recovery). An assembly job becomes runnable when the worker's
// render job (its child) has ended: done, it fetches the scenes, assembles the clip with ffmpeg and
// stores it; failed, it records the failure. Either way the outcome goes into the job's record and
// its chat's outbox (pipeline/job-store.ts), where a front-end picks it up and tells the user.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { FRAME_SIZES, RenderResult, type StageError } from '../gpu-bridge/contracts/index.ts';
import { failureFromReason, redisOptions } from '../gpu-bridge/producer.ts';
import { assembleClip } from '../media/assemble.ts';
import { recordStage, secondsSince } from '../metrics/index.ts';
import type { Storage } from '../storage/index.ts';
import { keys } from '../storage/keys.ts';
import { isUserError } from './errors.ts';
import type { JobStore } from './job-store.ts';
import { ASSEMBLE_QUEUE, userErrorFor, WORKER_SHARE, type AssembleJobData, type RenderedClip } from './render.ts';

export interface AssemblerOptions {
  redisUrl: string;
  storage: Storage;
  store: JobStore;
  /** Clips assembled at once by this process (ffmpeg uses every core; default 1). */
  concurrency?: number;
  /**
   * How long a job stays locked to this assembler without a renewal, and how often stalled jobs
   * (their assembler died) are looked for; BullMQ's defaults (30 s) unless set. The worker reads
   * the same settings (SPINBOT_LOCK_DURATION_MS, SPINBOT_STALLED_INTERVAL_MS).
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  log?: (line: string) => void;
}

export interface Assembler {
  worker: Worker<AssembleJobData, RenderedClip>;
  close(): Promise<void>;
}

const BACKEND = 'ffmpeg (CPU)';

/** A failure as the user reads it: one sentence (a stage's own words, or what the queue did). */
function sentenceFor(error: unknown): string {
  const user = userErrorFor(error);
  return isUserError(user) ? user.message : 'Something went wrong on our side while making it; the error was logged. Please try again.';
}

function isDiskFull(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === 'ENOSPC' || /ENOSPC|No space left on device/i.test(e?.message ?? '');
}

export function startAssembler(options: AssemblerOptions): Assembler {
  const log = options.log ?? ((line: string) => process.stderr.write(`[assembler] ${line}\n`));
  const { storage, store } = options;

  const fail = async (jobId: string, error: unknown): Promise<void> => {
    if (isDiskFull(error)) log(`job ${jobId}: the server is out of disk space (${(error as Error).message}); free space under the data folder`);
    else if (!isUserError(userErrorFor(error))) log(`job ${jobId} failed: ${(error as Error)?.stack ?? String(error)}`);
    await store.postOutcome(jobId, { kind: 'failed', error: sentenceFor(error) }).catch((e: unknown) => log(`job ${jobId}: could not record the failure: ${String(e)}`));
  };

  const processor = async (job: Job<AssembleJobData, RenderedClip>): Promise<RenderedClip> => {
    const { jobId, plan } = job.data;
    const failures = Object.values(await job.getIgnoredChildrenFailures());
    if (failures.length) {
      // The worker's render failed for good: told once, and this job fails with the same reason.
      const failure = failureFromReason(failures[0]);
      await fail(jobId, failure);
      throw new UnrecoverableError(failure.name === 'StageFailure' ? JSON.stringify(failure.detail) : failure.reason);
    }
    const record = await store.get(jobId);
    if (record?.state === 'cancelled') throw new UnrecoverableError(JSON.stringify(cancelled()));

    const result = RenderResult.parse(Object.values(await job.getChildrenValues())[0]);
    const workDir = await mkdtemp(join(tmpdir(), `spinbot-${jobId}-`));
    try {
      const report = (percent: number) =>
        job.updateProgress({ stage: 'assemble', percent, overall: WORKER_SHARE + (percent * (100 - WORKER_SHARE)) / 100, message: 'Assembling the clip', backend: BACKEND }).catch(() => {});
      await report(0);
      const scenes = await Promise.all(
        result.scenes.map(async (scene) => {
          const imagePath = join(workDir, `scene-${scene.index}.png`);
          const audioPath = join(workDir, `scene-${scene.index}.wav`);
          await storage.getToFile(scene.imageKey, imagePath);
          await storage.getToFile(scene.audioKey, audioPath);
          // The presenter speaking or a motion clip: assembled instead of the still.
          const videoPath = scene.videoKey ? join(workDir, `scene-${scene.index}.mp4`) : undefined;
          if (scene.videoKey && videoPath) await storage.getToFile(scene.videoKey, videoPath);
          const planned = plan.scenes[scene.index]!;
          return { imagePath, videoPath, audioPath, seconds: scene.seconds, audioSeconds: scene.audioSeconds, sentences: scene.sentences, narration: planned.narration };
        }),
      );
      const started = performance.now();
      const clip = await assembleClip({
        scenes,
        outPath: join(workDir, 'final.mp4'),
        workDir,
        size: FRAME_SIZES[plan.aspect],
        music: plan.music ? (plan.musicMood ?? true) : false,
        onProgress: (percent) => void report(percent),
      });
      recordStage('assemble', 'ffmpeg', secondsSince(started));
      const key = keys.finalClip(jobId);
      const stored = await storage.put(key, { file: clip.outPath }, { contentType: 'video/mp4' });
      const backends = Object.fromEntries(Object.entries(result.backends).map(([stage, info]) => [stage, info.name]));
      const licences = Object.fromEntries(Object.entries(result.backends).flatMap(([stage, info]) => (info.licence ? [[stage, info.licence]] : [])));
      // The track's label names its library and licence; without one, why there is none.
      if (plan.music) backends.music = clip.music?.label ?? `none: ${clip.musicMissing}`;
      const made: RenderedClip = {
        jobId,
        key,
        location: await storage.link(key),
        seconds: clip.seconds,
        bytes: stored.bytes,
        backends: { ...backends, assemble: BACKEND },
        licences,
      };
      // Recorded before the job completes: a crash in between re-runs the assembly, and the outbox
      // takes a job's outcome only once.
      await store.postOutcome(jobId, { kind: 'clip', clip: made });
      return made;
    } catch (error) {
      const attempts = job.opts.attempts ?? 1;
      const last = isDiskFull(error) || job.attemptsMade + 1 >= attempts;
      if (last) {
        await fail(jobId, error);
        if (isDiskFull(error)) throw new UnrecoverableError(JSON.stringify(diskFull()));
      }
      throw error;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };

  const worker = new Worker<AssembleJobData, RenderedClip>(ASSEMBLE_QUEUE, processor, {
    connection: redisOptions(options.redisUrl),
    concurrency: options.concurrency ?? 1,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
  });
  // A job the queue gave up on (its assembler died too often) is told too; the processor tells
  // every other failure itself.
  worker.on('failed', (job, error) => {
    if (job && /stalled/i.test(error?.message ?? '')) void fail(job.data.jobId, failureFromReason(error.message));
  });
  // Connection trouble is logged once per outage by the job store.
  worker.on('error', () => {});
  let closing: Promise<void> | undefined;
  // Not waiting for a clip being assembled: its lock expires and an assembler (this one after a
  // restart, or another) does it again; stopping stays quick.
  return { worker, close: () => (closing ??= worker.close(true)) };
}

function cancelled(): StageError {
  return { stage: 'assemble', code: 'CANCELLED', message: 'Cancelled.', retryable: false };
}

function diskFull(): StageError {
  return { stage: 'assemble', code: 'INTERNAL', message: 'No space left on device', retryable: false };
}
