// Runs render jobs for chat users through a ChatChannel, whatever the platform: limits and quota,
// saved voices, one status message edited with stage / percent / place in line / time left, the
// finished clip (fitted to the platform's upload limit, or a link), Retry / Variation / Cancel.
import { randomInt } from 'node:crypto';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Progress, ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { fitToSize } from '../media/fit.ts';
import { UserError } from '../pipeline/errors.ts';
import { newJobId, type RenderedClip } from '../pipeline/render.ts';
import type { Studio } from '../pipeline/studio.ts';
import { keys } from '../storage/keys.ts';
import type { JobLimits } from './access.ts';
import { describeFailure, formatDuration, jobButtons, stageLabel, type ChatChannel, type ProgressView } from './channel.ts';
import { estimateRenderSeconds, formatBytes, formatClip } from './format.ts';
import type { Owner, VoiceLibrary } from './uploads/voices.ts';

export interface GenerateSpec {
  plan: ScriptPlan;
  /** A saved voice of the user's to narrate with. */
  voiceName?: string;
  seed?: number;
  /** A stored reference picture (kept for image-conditioned GPU visuals). */
  referenceImageKey?: string;
  /** Refining a made clip: its unchanged scenes (0-based) are reused instead of rendered. */
  reuse?: { jobId: string; scenes: number[] };
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  jobId: string;
  owner: Owner;
  chatId: string;
  spec: GenerateSpec & { seed: number };
  /** The plan as rendered (a saved voice resolved to its reference sample). */
  plan: ScriptPlan;
  state: JobState;
  createdAt: number;
  finishedAt?: number;
  progress?: Progress;
  clip?: RenderedClip;
  error?: string;
  /** Settles when the job ended and the user was told (never rejects). */
  done: Promise<void>;
  controller: AbortController;
}

export interface JobRunnerDeps {
  studio: Studio;
  voices: VoiceLibrary;
  limits: JobLimits;
  /** Quality floor when re-encoding to fit an upload limit (kbit/s). */
  minVideoKbps: number;
  /** How often the place in line is refreshed while waiting. */
  queuePollMs?: number;
  log?: (line: string) => void;
}

const ACTIVE: JobState[] = ['queued', 'running'];
/** Finished jobs kept for /status and Retry / Variation. */
const KEEP_FINISHED = 500;

function slug(title: string): string {
  return title.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'clip';
}

/** A saved voice is cloned only by a GPU TTS backend; the CPU backend is espeak-ng. */
function voiceWasCloned(clip: RenderedClip): boolean {
  return !/espeak/i.test(clip.backends.tts ?? '');
}

export class JobRunner {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly reserved = new Map<string, number>();
  private closed = false;

  constructor(private readonly deps: JobRunnerDeps) {}

  private log(line: string): void {
    (this.deps.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  /** The user's queued or running jobs, oldest first. */
  active(owner: Owner): JobRecord[] {
    return [...this.jobs.values()].filter((j) => sameOwner(j.owner, owner) && ACTIVE.includes(j.state));
  }

  /** Throws the running-jobs UserError when the user may not start another job now. */
  checkCanStart(owner: Owner): void {
    this.deps.limits.checkRunning(this.active(owner).length + (this.reserved.get(ownerKey(owner)) ?? 0));
  }

  /**
   * Holds one of the user's running-job slots from the moment a request arrives (before the ack,
   * the downloads and the planning), so that quick repeated requests cannot all get through.
   * Pass it to start(); release() it when the request ends without a job (idempotent).
   */
  reserve(owner: Owner): Reservation {
    this.checkCanStart(owner);
    const key = ownerKey(owner);
    this.reserved.set(key, (this.reserved.get(key) ?? 0) + 1);
    let held = true;
    return {
      owner,
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.reserved.get(key) ?? 1) - 1;
        if (left > 0) this.reserved.set(key, left);
        else this.reserved.delete(key);
      },
    };
  }

  get(jobId: string): JobRecord | undefined {
    return this.jobs.get(jobId);
  }

  /**
   * Checks the user's limits, resolves a saved voice, and queues the job. Resolves once the job is
   * queued (the render goes on in the background; `record.done` settles when it ends). Throws a
   * UserError, before anything is queued, when the job may not start.
   */
  async start(channel: ChatChannel, spec: GenerateSpec, reservation?: Reservation): Promise<JobRecord> {
    try {
      return await this.startReserved(channel, spec, reservation);
    } finally {
      reservation?.release();
    }
  }

  private async startReserved(channel: ChatChannel, spec: GenerateSpec, reservation?: Reservation): Promise<JobRecord> {
    if (this.closed) throw new UserError('render.failed', 'The bot is shutting down; try again in a minute.');
    const owner: Owner = { platform: channel.platform, userId: channel.userId };
    // Other requests of this user in flight count, this one's own reservation does not.
    const checkRunning = () =>
      this.deps.limits.checkRunning(this.active(owner).length + (this.reserved.get(ownerKey(owner)) ?? 0) - (reservation ? 1 : 0));
    checkRunning();
    let plan = spec.plan;
    if (spec.voiceName) {
      const voice = await this.deps.voices.require(owner, spec.voiceName);
      plan = { ...plan, voice: { ...plan.voice, engine: 'f5-tts', id: voice.name, referenceKey: voice.key } };
    }
    // Counted last: a refused request does not use up the quota. Checked again after each await
    // so that two quick requests cannot both slip under the running limit.
    checkRunning();
    await this.deps.limits.consumeDaily(owner);
    checkRunning();

    const record: JobRecord = {
      jobId: newJobId(),
      owner,
      chatId: channel.chatId,
      spec: { ...spec, seed: spec.seed ?? 0 },
      plan,
      state: 'queued',
      createdAt: Date.now(),
      controller: new AbortController(),
      done: Promise.resolve(),
    };
    this.jobs.set(record.jobId, record);
    this.prune();
    record.done = this.run(channel, record).catch((error: unknown) => this.log(`job ${record.jobId}: ${(error as Error).stack ?? error}`));
    return record;
  }

  /** Same plan again (Retry keeps the seed; Variation picks a new one). Only the job's owner may. */
  async again(channel: ChatChannel, jobId: string, variation: boolean, reservation?: Reservation): Promise<JobRecord> {
    try {
      const previous = this.ownedJob({ platform: channel.platform, userId: channel.userId }, jobId);
      // Rendered whole again: reused scenes of a refined clip would keep their old pictures.
      const spec = { ...previous.spec, reuse: undefined, seed: variation ? randomInt(1, 2 ** 31 - 1) : previous.spec.seed };
      return await this.start(channel, spec, reservation);
    } finally {
      reservation?.release();
    }
  }

  /**
   * Cancels the user's job (the given one, else their latest active one). A waiting job leaves the
   * queue at once; a running one stops being waited for, and its assembly is killed.
   */
  async cancel(owner: Owner, jobId?: string): Promise<JobRecord> {
    const record = jobId ? this.ownedJob(owner, jobId) : this.active(owner).at(-1);
    if (!record) throw new UserError('job.notFound', 'You have no video in the works to cancel.');
    if (!ACTIVE.includes(record.state)) {
      throw new UserError('job.notFound', `That video is already ${record.state === 'done' ? 'finished' : record.state}; nothing to cancel.`);
    }
    if (record.clip) throw new UserError('job.notFound', `"${record.plan.title}" is already made and is being posted; nothing to cancel.`);
    record.controller.abort(new UserError('render.cancelled', 'Cancelled.'));
    await this.deps.studio.queue.cancel(record.jobId).catch((error: unknown) => this.log(`cancel ${record.jobId}: ${String(error)}`));
    // The user is told by the job itself; wait (briefly) so the reply comes after that.
    await Promise.race([record.done, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    return record;
  }

  /** One line per job for /status: the given job, else the user's active and last finished ones. */
  async status(owner: Owner, jobId?: string): Promise<string> {
    if (jobId) return this.describe(this.ownedJob(owner, jobId));
    const mine = [...this.jobs.values()].filter((j) => sameOwner(j.owner, owner));
    const active = mine.filter((j) => ACTIVE.includes(j.state));
    const last = mine.filter((j) => !ACTIVE.includes(j.state)).at(-1);
    if (!active.length && !last) return 'You have no videos in the works. Start one with /generate.';
    const lines = await Promise.all(active.map((j) => this.describe(j)));
    if (last) lines.push(`Last finished: ${await this.describe(last)}`);
    return lines.join('\n');
  }

  /** Stops waiting for every job (the bot is shutting down). */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.jobs.values()].filter((j) => ACTIVE.includes(j.state));
    for (const job of running) job.controller.abort(new UserError('render.cancelled', 'The bot was stopped.'));
    await Promise.allSettled(running.map((j) => j.done));
  }

  private ownedJob(owner: Owner, jobId: string): JobRecord {
    const record = this.jobs.get(jobId);
    if (!record || !sameOwner(record.owner, owner)) {
      throw new UserError('job.notFound', `I have no video "${jobId}" of yours (finished ones are kept until the bot restarts).`);
    }
    return record;
  }

  private async describe(record: JobRecord): Promise<string> {
    const head = `"${record.plan.title}" (${record.jobId})`;
    switch (record.state) {
      case 'queued': {
        const position = await this.deps.studio.queue.position(record.jobId).catch(() => null);
        return `${head}: queued${position ? `, number ${position} in line` : ''}.`;
      }
      case 'running': {
        const p = record.progress;
        return p ? `${head}: ${stageLabel(p.stage)} ${Math.round(p.percent)}% — ${p.message} (overall ${Math.round(p.overall)}%).` : `${head}: starting.`;
      }
      case 'done':
        return `${head}: done${record.clip ? ` (${record.clip.seconds.toFixed(1)} s)` : ''}.`;
      case 'cancelled':
        return `${head}: cancelled.`;
      case 'failed':
        return `${head}: failed — ${record.error ?? 'unknown error'}`;
    }
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => !ACTIVE.includes(j.state));
    for (const job of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(job.jobId);
  }

  private async run(channel: ChatChannel, record: JobRecord): Promise<void> {
    const { studio } = this.deps;
    const signal = record.controller.signal;
    const title = record.plan.title;
    const estimate = estimateRenderSeconds(record.plan);
    const cancel = { buttons: [jobButtons.cancel(record.jobId)] };
    let startedAt = 0;
    const view = (p?: Progress, queuePosition?: number | null): ProgressView => {
      if (!p) return { title, overall: 0, message: 'Queued', queuePosition, etaSeconds: estimate };
      if (!startedAt) startedAt = Date.now();
      const elapsed = (Date.now() - startedAt) / 1000;
      // The larger of two guesses: the pace so far, and what is left of the estimate.
      const byPace = p.overall >= 10 ? (elapsed * (100 - p.overall)) / p.overall : estimate;
      const byEstimate = Math.min(estimate - elapsed, (estimate * (100 - p.overall)) / 100);
      const eta = Math.max(0, byPace, byEstimate);
      return { title, stage: p.stage, percent: p.percent, overall: p.overall, message: p.message, backend: p.backend, etaSeconds: eta };
    };
    const show = (v: ProgressView) => {
      if (signal.aborted) return;
      channel.progress(v, cancel).catch((error: unknown) => this.log(`job ${record.jobId}: progress: ${String(error)}`));
    };

    await channel.progress(view(undefined, null), cancel).catch((error: unknown) => this.log(`job ${record.jobId}: status: ${String(error)}`));
    // Until the worker reports, show the place in line.
    const poll = setInterval(() => {
      if (record.progress || signal.aborted) return;
      studio.queue.position(record.jobId).then((position) => {
        if (!record.progress && position !== null && position > 0) show(view(undefined, position));
      }, () => {});
    }, this.deps.queuePollMs ?? 1000);
    poll.unref();

    let clip: RenderedClip;
    try {
      clip = await studio.render(
        {
          plan: record.plan,
          requestedBy: { platform: record.owner.platform, userId: record.owner.userId, chatId: record.chatId },
          jobId: record.jobId,
          seed: record.spec.seed,
          referenceImageKey: record.spec.referenceImageKey,
          reuseFrom: record.spec.reuse,
          signal,
        },
        (p) => {
          record.state = 'running';
          record.progress = p;
          show(view(p));
        },
      );
    } catch (error) {
      clearInterval(poll);
      record.finishedAt = Date.now();
      if (signal.aborted) {
        record.state = 'cancelled';
        if (this.closed) {
          // The bot is stopping, not the user cancelling: the job stays queued and its files stay.
          await channel.finishProgress(`⏸ The bot was stopped while "${title}" was in the works.`).catch(() => {});
          return;
        }
        // Out of the queue before the user reads "cancelled" (a running job gets the stop signal).
        await studio.queue.cancel(record.jobId).catch(() => {});
        await channel.finishProgress(`🛑 "${title}" was cancelled. Nothing was posted.`).catch(() => {});
        this.cleanUpCancelled(record.jobId);
        return;
      }
      record.state = 'failed';
      record.error = describeFailure(error);
      this.log(`job ${record.jobId} failed: ${(error as Error)?.stack ?? String(error)}`);
      await channel.finishProgress(`❌ "${title}" could not be made.`).catch(() => {});
      await channel.fail(error).catch(() => {});
      return;
    }
    clearInterval(poll);

    try {
      record.clip = clip;
      // The clip exists: the user's running-job slot is free while it is being posted.
      record.state = 'done';
      record.finishedAt = Date.now();
      await channel.progress({ title, stage: 'assemble', percent: 100, overall: 100, message: 'Posting the clip' });
      await this.deliver(channel, record, clip);
      await channel.finishProgress(`✅ "${title}" is ready (${formatDuration((record.finishedAt - record.createdAt) / 1000)}).`);
    } catch (error) {
      record.state = 'failed';
      record.error = describeFailure(error);
      record.finishedAt = Date.now();
      this.log(`job ${record.jobId}: delivery failed: ${(error as Error)?.stack ?? String(error)}`);
      await channel.finishProgress(`❌ "${title}" was made but could not be posted.`).catch(() => {});
      await channel.fail(new UserError('render.failed', `I could not post the clip here: ${(error as Error).message}. It is stored as ${clip.location}.`)).catch(() => {});
    }
  }

  /** The clip as a file when it fits (re-encoded if needed), else a link. */
  private async deliver(channel: ChatChannel, record: JobRecord, clip: RenderedClip): Promise<void> {
    // The console user reads files on this machine: the stored clip's own path (or link) is named,
    // and nothing is copied or re-encoded.
    const local = channel.platform === 'console';
    let summary = formatClip(clip, local ? clip.location : `"${record.plan.title}"`);
    if (record.spec.voiceName && !voiceWasCloned(clip)) {
      // Said plainly where the voice is named: the saved voice was not used, and why.
      const tts = clip.backends.tts ?? 'espeak-ng (CPU)';
      const note = `Voice: ${tts} — your voice '${record.plan.voice.id}' needs a GPU worker for cloning`;
      summary = summary.includes(`Voice: ${tts}`) ? summary.replace(`Voice: ${tts}`, note) : `${summary}\n${note}.`;
    }
    const lines = [summary];
    if (record.spec.referenceImageKey) lines.push('Your reference picture is saved; the CPU title cards do not use pictures yet.');
    if (record.plan.scenes.length > 1) {
      // Discord has no free text for bots: the conversation is /chat there.
      lines.push(channel.platform === 'discord' ? 'To change one scene: /chat redo scene 2 with a sunset' : 'To change one scene, say e.g. "redo scene 2 with a sunset".');
    }
    if (local) return channel.reply(lines.join('\n'));

    const buttons = [jobButtons.retry(record.jobId), jobButtons.variation(record.jobId)];
    const workDir = await mkdtemp(path.join(tmpdir(), `spinbot-post-${record.jobId}-`));
    try {
      const original = path.join(workDir, 'clip.mp4');
      await this.deps.studio.storage.getToFile(clip.key, original);
      const fit = await fitToSize(original, { maxBytes: channel.uploadLimitBytes, minVideoKbps: this.deps.minVideoKbps, workDir });
      if (fit.fits) {
        if (fit.reencoded) lines.push(`Re-encoded to ${formatBytes(fit.bytes)} to fit the ${formatBytes(channel.uploadLimitBytes)} upload limit.`);
        const named = path.join(workDir, `${slug(record.plan.title)}.mp4`);
        await rename(fit.path, named);
        await channel.sendVideo({ path: named, caption: lines.join('\n'), buttons });
      } else {
        lines.push(`Too large to attach here (${formatBytes(clip.bytes)}; ${fit.reason}), so here is a link.`);
        await channel.sendLink({ url: clip.location, caption: lines.join('\n'), buttons });
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * A cancelled job may have been queued after the first cancel call (it was being submitted), or
   * may still be running in the worker: take it out of the queue again, then remove its files
   * once the worker let go of it.
   */
  private cleanUpCancelled(jobId: string): void {
    const { queue, storage } = this.deps.studio;
    void (async () => {
      for (let i = 0; i < 900; i++) {
        const outcome = await queue.cancel(jobId).catch(() => 'unknown' as const);
        if (outcome !== 'signalled') break;
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
        if (this.closed) return;
      }
      await storage.deletePrefix(keys.jobPrefix(jobId)).catch(() => {});
    })();
  }
}

export interface Reservation {
  owner: Owner;
  release(): void;
}

function ownerKey(owner: Owner): string {
  return `${owner.platform}:${owner.userId}`;
}

function sameOwner(a: Owner, b: Owner): boolean {
  return a.platform === b.platform && a.userId === b.userId;
}
