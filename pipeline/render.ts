// From an approved plan to a stored clip: enqueue the render job for the worker (narration and
// pictures per scene), then assemble the clip here with ffmpeg and store it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress, RenderResult, ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { CONTRACT_VERSION, FRAME_SIZES } from '../gpu-bridge/contracts/index.ts';
import { StageFailure, type GpuQueue } from '../gpu-bridge/producer.ts';
import { assembleClip } from '../media/assemble.ts';
import type { Storage } from '../storage/index.ts';
import { keys } from '../storage/keys.ts';
import { recordStage, secondsSince, trackRender } from '../metrics/index.ts';
import { UserError } from './errors.ts';

/** Share of the job's overall progress taken by the worker's stages; assembly takes the rest. */
const WORKER_SHARE = 85;

export interface RenderRequest {
  plan: ScriptPlan;
  requestedBy: { platform: 'console' | 'cli' | 'discord' | 'telegram' | 'test'; userId: string; chatId?: string };
  jobId?: string;
  seed?: number;
  /** A stored reference image (e.g. the user's photo) for image-conditioned visuals. */
  referenceImageKey?: string;
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
  /** e.g. { tts: "espeak-ng (CPU)", visuals: "title cards (CPU)" } */
  backends: Record<string, string>;
}

export function newJobId(): string {
  const stamp = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `${stamp}-${randomBytes(5).toString('hex')}`;
}

export async function renderVideo(
  request: RenderRequest,
  deps: { queue: GpuQueue; storage: Storage },
): Promise<RenderedClip> {
  const jobId = request.jobId ?? newJobId();
  const report = request.onProgress ?? (() => {});
  const tracked = trackRender(request.signal);
  await deps.storage.put(keys.plan(jobId), Buffer.from(JSON.stringify(request.plan, null, 2)), {
    contentType: 'application/json',
  });
  const reuseScenes = request.reuseFrom ? await copyScenes(deps.storage, request.reuseFrom, jobId) : [];
  // Cancelled while the scenes were being copied: nothing may reach the queue after the cancel.
  request.signal?.throwIfAborted();

  let result: RenderResult;
  try {
    const job = await deps.queue.submit({
      kind: 'render',
      contractVersion: CONTRACT_VERSION,
      jobId,
      requestedBy: request.requestedBy,
      plan: request.plan,
      seed: request.seed ?? 0,
      referenceImageKey: request.referenceImageKey,
      reuseScenes,
    });
    tracked.queued();
    result = await deps.queue.waitForRender(job, {
      signal: request.signal,
      onProgress: (p) => {
        tracked.progressed();
        report({ ...p, overall: (p.overall * WORKER_SHARE) / 100 });
      },
    });
  } catch (error) {
    tracked.failed(error);
    if (error instanceof StageFailure) {
      const { stage, code, message } = error.detail;
      if (code === 'CANCELLED') throw new UserError('render.cancelled', 'Cancelled.', { cause: error });
      throw new UserError(code === 'NO_GPU' ? 'render.noGpu' : 'render.failed', `The ${stage} stage failed: ${message}`, {
        cause: error,
      });
    }
    throw error;
  }

  const workDir = await mkdtemp(join(tmpdir(), `spinbot-${jobId}-`));
  try {
    const scenes = await Promise.all(
      result.scenes.map(async (scene) => {
        const imagePath = join(workDir, `scene-${scene.index}.png`);
        const audioPath = join(workDir, `scene-${scene.index}.wav`);
        await deps.storage.getToFile(scene.imageKey, imagePath);
        await deps.storage.getToFile(scene.audioKey, audioPath);
        const planned = request.plan.scenes[scene.index]!;
        return { imagePath, audioPath, seconds: scene.seconds, audioSeconds: scene.audioSeconds, narration: planned.narration };
      }),
    );
    const backend = 'ffmpeg (CPU)';
    report({ stage: 'assemble', percent: 0, overall: WORKER_SHARE, message: 'Assembling the clip', backend });
    const assembleStarted = performance.now();
    const clip = await assembleClip({
      scenes,
      outPath: join(workDir, 'final.mp4'),
      workDir,
      size: FRAME_SIZES[request.plan.aspect],
      music: request.plan.music,
      signal: request.signal,
      onProgress: (percent) =>
        report({
          stage: 'assemble',
          percent,
          overall: WORKER_SHARE + (percent * (100 - WORKER_SHARE)) / 100,
          message: 'Assembling the clip',
          backend,
        }),
    });
    recordStage('assemble', 'ffmpeg', secondsSince(assembleStarted));
    const key = keys.finalClip(jobId);
    const stored = await deps.storage.put(key, { file: clip.outPath }, { contentType: 'video/mp4' });
    const backends = Object.fromEntries(Object.entries(result.backends).map(([stage, info]) => [stage, info.name]));
    const location = await deps.storage.link(key);
    tracked.completed();
    return {
      jobId,
      key,
      location,
      seconds: clip.seconds,
      bytes: stored.bytes,
      backends: { ...backends, assemble: backend },
    };
  } catch (error) {
    tracked.failed(error);
    throw error;
  } finally {
    await rm(workDir, { recursive: true, force: true });
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
      copied.push(index);
    } catch {
      // not stored any more (expired or deleted): rendered again
    }
  }
  return copied;
}
