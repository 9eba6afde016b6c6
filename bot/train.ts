// Training a style from chat, whatever the platform: pictures downloaded to a private folder,
// checked and queued (bot/styles.ts), then followed to the end with progress (steps, ETA) and a
// closing line; the downloads are removed either way.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrainResult, type TrainVoiceResult } from '../gpu-bridge/contracts/index.ts';
import type { GpuQueue } from '../gpu-bridge/producer.ts';
import { isUserError } from '../pipeline/errors.ts';
import type { Storage } from '../storage/index.ts';
import type { ChatChannel } from './channel.ts';
import type { JobRunner } from './jobs.ts';
import { describeTrainResult } from './train-result.ts';
import { downloadUpload, type DownloadPolicy, type UploadSource } from './uploads/download.ts';
import type { Owner as VoiceOwner } from './uploads/voices.ts';
import { comfyTrainingReadiness, StyleLibrary, startTraining, styleSlug, type Owner, type TrainingReadiness } from './styles.ts';

export interface TrainFromChat {
  storage: Storage;
  queue: GpuQueue;
  channel: ChatChannel;
  downloads: DownloadPolicy;
  readiness?: TrainingReadiness;
}

export async function trainStyleFromChat(deps: TrainFromChat, owner: Owner, name: string, uploads: UploadSource[], caption?: string): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'spinbot-train-'));
  try {
    const files = [];
    for (const [index, upload] of uploads.entries()) {
      const local = path.join(folder, `${String(index + 1).padStart(2, '0')}-upload`);
      await downloadUpload(upload, local, deps.downloads);
      files.push({ path: local, name: upload.name ?? `picture ${index + 1}` });
    }
    await trainStyleFromFiles(deps, owner, name, files, caption);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** The same for pictures already on this machine (the console's folder): checked, queued and followed to the end. */
export async function trainStyleFromFiles(deps: Omit<TrainFromChat, 'downloads'>, owner: Owner, name: string, files: { path: string; name: string }[], caption?: string): Promise<void> {
  const jobId = `train-${randomUUID()}`;
  const library = new StyleLibrary(deps.storage);
  const readiness = deps.readiness ?? comfyTrainingReadiness();
  // /cancel takes a waiting training out of the queue, which BullMQ's wait never hears of: listen from before it is queued.
  const removed = new AbortController();
  const onRemoved = (event: { jobId: string }) => event.jobId === jobId && removed.abort(new Error('removed from the queue'));
  deps.queue.events.on('removed', onRemoved);
  let pictures: string[] = [];
  try {
    const started = await startTraining(library, deps.queue, owner, name, files, { jobId, readiness, ...(caption ? { caption } : {}) });
    if (!started.ok) {
      await deps.channel.reply(started.message);
      return;
    }
    const job = (await deps.queue.queue.getJob(started.jobId))!;
    pictures = job.data.kind === 'train_lora' ? job.data.imageKeys : [];
    await deps.channel.progress({ title: `Style "${name}"`, overall: 0, message: `Queued (${files.length - started.duplicates} pictures${started.duplicates ? `, ${started.duplicates} duplicate(s) left out` : ''})` });
    const result = await deps.queue.waitForResult(job, TrainResult, {
      signal: removed.signal,
      onProgress: (p) => void deps.channel.progress({ title: `Style "${name}"`, stage: p.stage, percent: p.percent, overall: p.overall, message: p.message, backend: p.backend }).catch(() => {}),
    });
    await deps.channel.finishProgress(`${describeTrainResult(result)} Use it with "in my style ${name}"; /styles lists yours.`);
  } catch (error) {
    // Cancelled while waiting (removed) or while training (the worker stopped ComfyUI and failed the job with CANCELLED).
    const cancelled = removed.signal.aborted || ((error as Error).name === 'StageFailure' && (error as { detail?: { code?: string } }).detail?.code === 'CANCELLED');
    if (!cancelled) throw error;
    // The uploaded pictures go with the training (a finished training's are removed by the worker).
    await Promise.all(pictures.map((key) => deps.storage.delete(key).catch(() => {})));
    await deps.channel.finishProgress(`🛑 The training of the style "${name}" was cancelled; nothing was stored.`);
  } finally {
    deps.queue.events.off('removed', onRemoved);
  }
}

/** Queues a saved voice's profile build (train_voice) without waiting for it; the BullMQ job. */
export function submitVoiceProfile(queue: GpuQueue, owner: Owner, name: string, sampleKeys: string[]) {
  return queue.submit({ kind: 'train_voice', contractVersion: 1, jobId: `voice-profile-${randomUUID()}`, requestedBy: owner, name, sampleKeys });
}

/**
 * Builds (or rebuilds) a saved voice's profile from its samples on the worker (any machine):
 * denoised, normalised, the best 6-12 s reference clip with its transcript. Cloning then listens to
 * that clip. Resolves with the validated TrainVoiceResult.
 */
export async function buildVoiceProfile(queue: GpuQueue, owner: Owner, name: string, sampleKeys: string[], signal?: AbortSignal) {
  const job = await submitVoiceProfile(queue, owner, name, sampleKeys);
  const result = await queue.waitForResult(job, TrainResult, signal ? { signal } : {});
  if (result.kind !== 'train_voice') throw new Error(`A voice profile job returned a ${result.kind} result.`);
  return result;
}

/** What the chat says about a voice profile, e.g. "8.2 s of clean speech: enough for cloning". */
export function voiceProfileSummary(profile: Pick<TrainVoiceResult, 'cleanSpeechSeconds' | 'enough'>): string {
  const seconds = `${profile.cleanSpeechSeconds.toFixed(1)} s of clean speech`;
  return profile.enough ? `${seconds}: enough for cloning` : `${seconds}: not enough for cloning yet, add another sample`;
}

/** The stored profile beside a saved voice (users/<p>/<id>/voices/<name>.wav -> .../<name>/profile.json), or null before one is built. */
export async function readVoiceProfile(storage: Storage, voiceKey: string): Promise<Pick<TrainVoiceResult, 'cleanSpeechSeconds' | 'enough'> | null> {
  const key = `${path.posix.dirname(voiceKey)}/${styleSlug(path.posix.basename(voiceKey, '.wav'))}/profile.json`;
  if (!(await storage.stat(key))) return null;
  return JSON.parse((await storage.get(key)).toString('utf8'));
}

/**
 * For VoiceLibrary's profile option: a saved voice's profile built on the worker (after its
 * transcript, in the background), resolving with what the chat is told: how much clean speech, enough
 * or not, and the reference clip's words. null when the build failed: that is logged, never shown
 * (the voice is saved either way).
 */
export function voiceProfileAfterSave(queue: GpuQueue, log: (line: string) => void) {
  return (audioKey: string, owner: VoiceOwner): Promise<string | null> => {
    const name = path.posix.basename(audioKey, '.wav');
    return buildVoiceProfile(queue, { platform: owner.platform, userId: owner.userId }, name, [audioKey])
      .then((profile) => `Voice profile for '${name}' ready: ${voiceProfileSummary(profile)}. Reference clip (${profile.referenceSeconds.toFixed(1)} s): "${profile.referenceText}"`)
      .catch((error: unknown) => {
        log(`voice profile ${name}: ${(error as Error).message}`);
        return null;
      });
  };
}

/** Says a saved sample's profile summary (in the chat the voice was sent in) once the worker built it. */
export function tellVoiceProfile(saved: { profile?: Promise<string | null> }, say: (text: string) => Promise<unknown>): void {
  void saved.profile?.then((summary) => (summary ? say(summary) : undefined)).catch(() => {});
}

/**
 * Stops the user's style training in the works (waiting: removed; running: the worker is told and
 * stops at its next step, see GpuQueue.cancel). Found in the queue, so it works from any process
 * and after a restart. The style's name, or null when none was in the works.
 */
export async function cancelTraining(queue: GpuQueue, owner: Pick<Owner, 'platform' | 'userId'>): Promise<string | null> {
  const inWorks = await queue.queue.getJobs(['active', 'waiting', 'prioritized', 'delayed']);
  const mine = inWorks.find((job) => job?.data?.kind === 'train_lora' && job.data.requestedBy?.platform === owner.platform && job.data.requestedBy.userId === owner.userId);
  if (!mine?.id) return null;
  await queue.cancel(mine.id);
  return (mine.data as { name: string }).name;
}

/**
 * What /cancel does on every platform: the user's video (the given job, else the latest in the
 * works); with no job named and no video in the works, their style training. The sentence for the
 * chat; throws the video's UserError when there is nothing to cancel at all.
 */
export async function cancelVideoOrTraining(jobs: Pick<JobRunner, 'cancel'>, queue: GpuQueue, owner: VoiceOwner, jobId?: string): Promise<string> {
  try {
    const job = await jobs.cancel(owner, jobId);
    return `Cancelled "${job.plan.title}" (${job.jobId}).`;
  } catch (error) {
    if (jobId || !isUserError(error) || error.id !== 'job.notFound') throw error;
    const training = await cancelTraining(queue, owner);
    if (!training) throw error;
    return `Cancelled the training of the style "${training}"; nothing was stored.`;
  }
}

/** The files directly in a local folder (the console's "train my style <name> from <folder>"), or a sentence. */
export async function picturesInFolder(folder: string): Promise<{ ok: true; files: { path: string; name: string }[] } | { ok: false; message: string }> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => error);
  if (entries instanceof Error) {
    return { ok: false, message: entries.code === 'ENOENT' ? `There is no folder ${folder}.` : entries.code === 'ENOTDIR' ? `${folder} is a file, not a folder of pictures.` : `I cannot read the folder ${folder} (${entries.code ?? entries.message}).` };
  }
  // Every file is checked by content (a stray text file is named in the refusal); sub-folders are not read.
  const files = entries.filter((e) => e.isFile()).map((e) => ({ path: path.join(folder, e.name), name: e.name })).sort((a, b) => a.name.localeCompare(b.name));
  return { ok: true, files };
}
