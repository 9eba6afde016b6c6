// Runs render jobs for chat users through a ChatChannel, whatever the platform: limits and quota,
// saved voices, one status message edited with stage / percent / place in line / time left, the
// finished clip (fitted to the platform's upload limit, or a link), Retry / Variation / Cancel.
// Nothing here lives only in this process: the job records are in Redis (pipeline/job-store.ts),
// the render runs as queued steps (pipeline/render.ts, pipeline/assembler.ts), and outcomes are
// posted from the platform's outbox, which this runner drains at start and while it runs. A bot
// that restarts goes on editing its jobs' status messages and posts what was made while it was down.
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Progress } from '../gpu-bridge/contracts/index.ts';
import { fitToSize } from '../media/fit.ts';
import { recordJob } from '../metrics/index.ts';
import { isUserError, UserError } from '../pipeline/errors.ts';
import { ACTIVE_STATES, type JobRecord, type JobSpec, type StoredClip } from '../pipeline/job-store.ts';
import { newJobId, userErrorFor } from '../pipeline/render.ts';
import type { Studio } from '../pipeline/studio.ts';
import { keys } from '../storage/keys.ts';
import type { JobLimits } from './access.ts';
import { formatDuration, jobButtons, stageLabel, type ChatChannel, type Platform, type ProgressView } from './channel.ts';
import { estimateRenderSeconds, formatBytes, formatClip, formatLicences } from './format.ts';
import type { Owner, VoiceLibrary } from './uploads/voices.ts';

export type { JobRecord } from '../pipeline/job-store.ts';

export interface GenerateSpec extends Omit<JobSpec, 'seed'> {
  seed?: number;
}

/** Where a job's outcome goes: enough to rebuild a channel after a restart. */
export interface Destination {
  chatId: string;
  userId: string;
  statusRef?: string;
}

export interface JobRunnerDeps {
  studio: Studio;
  voices: VoiceLibrary;
  limits: JobLimits;
  /** The platform whose jobs this runner starts, watches and delivers. */
  platform: Platform;
  /** A channel to a job's chat (its status message included), for jobs this process did not start. */
  resume?: (destination: Destination) => ChatChannel | undefined;
  /** Quality floor when re-encoding to fit an upload limit (kbit/s). */
  minVideoKbps: number;
  /** The planner that writes this runner's plans, named in the clip's result line. */
  planner?: string;
  /** How often the place in line is refreshed while waiting. */
  queuePollMs?: number;
  /** How often the outbox is read besides when a job ends (default 1 s). */
  drainIntervalMs?: number;
  log?: (line: string) => void;
}

/** A job this process shows: its channel, its watchers, and a promise settled once its outcome is told. */
interface LiveJob {
  record: JobRecord;
  channel: ChatChannel;
  startedAt: number;
  settled: Promise<void>;
  settle(): void;
  stop(): void;
}

/** The status line while a job's worker is started again (its job is handed to the new one). */
export const RENDERER_RESTARTED = 'the renderer restarted; resuming';
/** How long one delivery may hold a job's outbox entry before another drain may try. */
const DELIVERY_LEASE_MS = 3 * 60_000;
const DELIVERY_ATTEMPTS = 3;
/** How long an outcome waits for the process that shows its job before any other may post it. */
const LIVE_OWNER_GRACE_MS = 5000;

function slug(title: string): string {
  return title.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'clip';
}

/** A saved voice is cloned only by a GPU TTS backend; the CPU ones (Piper, espeak-ng) speak their own voice. */
function voiceWasCloned(clip: StoredClip): boolean {
  return !/\(CPU\)|espeak/i.test(clip.backends.tts ?? '');
}

/**
 * The job id of an approved plan: the same plan dispatched again (a crash between queueing and
 * the conversation's checkpoint, a second press) is the same job.
 */
export function jobIdForDispatch(dispatchId: string, owner: Owner, chatId: string): string {
  const thread = createHash('sha256').update(`${owner.platform}:${chatId}:${owner.userId}`).digest('hex').slice(0, 10);
  return `${dispatchId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 40)}-${thread}`;
}

export class JobRunner {
  private readonly live = new Map<string, LiveJob>();
  private readonly reserved = new Map<string, number>();
  private readonly delivering = new Set<string>();
  private readonly cantDeliver = new Set<string>();
  private drainTimer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  private stopListening: (() => void) | null = null;
  private closed = false;

  constructor(private readonly deps: JobRunnerDeps) {}

  private get store() {
    return this.deps.studio.jobs;
  }

  private log(line: string): void {
    (this.deps.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  /** The user's queued or running jobs shown by this process, oldest first (one being posted no longer counts). */
  active(owner: Owner): JobRecord[] {
    return [...this.live.values()].map((j) => j.record).filter((r) => sameOwner(r.owner, owner) && ACTIVE_STATES.includes(r.state));
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

  /** The stored record of a job (any owner), or undefined when it is unknown or expired. */
  record(jobId: string): Promise<JobRecord | undefined> {
    return this.store.get(jobId);
  }

  /** Settles once the job's outcome was told in its chat (or it was cancelled). */
  settled(jobId: string): Promise<void> {
    return this.live.get(jobId)?.settled ?? Promise.resolve();
  }

  /**
   * Checks the user's limits, resolves a saved voice, records and queues the job. Resolves once
   * it is queued (the render goes on in the queue's workers). Throws a UserError, before anything
   * is queued, when the job may not start. With `dispatchId` (an approved plan's id), the same
   * plan dispatched again returns the job it already is, and queues and counts nothing.
   */
  async start(channel: ChatChannel, spec: GenerateSpec, reservation?: Reservation, dispatchId?: string): Promise<JobRecord> {
    try {
      return await this.startReserved(channel, spec, reservation, dispatchId);
    } catch (error) {
      throw userErrorFor(error);
    } finally {
      reservation?.release();
    }
  }

  private async startReserved(channel: ChatChannel, spec: GenerateSpec, reservation?: Reservation, dispatchId?: string): Promise<JobRecord> {
    if (this.closed) throw new UserError('render.failed', 'The bot is shutting down; try again in a minute.');
    const owner: Owner = { platform: channel.platform, userId: channel.userId };
    const jobId = dispatchId ? jobIdForDispatch(dispatchId, owner, channel.chatId) : newJobId();
    if (dispatchId) {
      const existing = await this.store.get(jobId);
      if (existing) {
        // Recorded but perhaps never queued (a crash in between): queue it now; else nothing to do.
        if (existing.state === 'queued' && !(await this.deps.studio.renders.exists(jobId))) await this.dispatch(existing);
        return existing;
      }
    }
    // Other requests of this user in flight count, this one's own reservation does not.
    const checkRunning = () =>
      this.deps.limits.checkRunning(this.active(owner).length + (this.reserved.get(ownerKey(owner)) ?? 0) - (reservation ? 1 : 0));
    checkRunning();
    let plan = spec.plan;
    if (spec.voiceName) {
      const voice = await this.deps.voices.require(owner, spec.voiceName);
      plan = { ...plan, voice: { ...plan.voice, engine: 'f5-tts', id: voice.name, referenceKey: voice.key } };
    }
    // Redis answers before anything is counted (a refused request does not use up the quota).
    await this.store.available();
    // Counted last: a refused request does not use up the quota. Checked again after each await
    // so that two quick requests cannot both slip under the running limit.
    checkRunning();
    const quotaKey = await this.deps.limits.consumeDaily(owner);
    try {
      checkRunning();
    } catch (error) {
      await this.deps.limits.refundDaily(quotaKey).catch(() => {});
      throw error;
    }

    const record: JobRecord = {
      jobId,
      owner: { platform: channel.platform, userId: channel.userId },
      chatId: channel.chatId,
      spec: { ...spec, seed: spec.seed ?? 0, planner: spec.planner ?? this.deps.planner },
      plan,
      createdAt: Date.now(),
      quotaKey,
      state: 'queued',
    };
    try {
      if (!(await this.store.create(record))) {
        // The same plan, dispatched at the same moment by another press: that one counts.
        await this.deps.limits.refundDaily(quotaKey).catch(() => {});
        return (await this.store.get(jobId)) ?? record;
      }
      this.attach(record, channel);
      await this.dispatch(record);
      recordJob('queued');
    } catch (error) {
      await this.deps.limits.refundDaily(quotaKey).catch(() => {});
      const told = userErrorFor(error);
      await this.store.update(jobId, { state: 'failed', error: isUserError(told) ? told.message : 'It could not be queued.', finishedAt: Date.now() }).catch(() => {});
      this.detach(jobId);
      throw error;
    }
    return record;
  }

  private async dispatch(record: JobRecord): Promise<void> {
    await this.deps.studio.renders.dispatch(
      {
        jobId: record.jobId,
        plan: record.plan,
        requestedBy: { platform: record.owner.platform, userId: record.owner.userId, chatId: record.chatId },
        seed: record.spec.seed,
        referenceImageKey: record.spec.referenceImageKey,
        style: record.spec.style,
        reuseFrom: record.spec.reuse,
      },
      this.deps.studio.storage,
    );
  }

  /** Same plan again (Retry keeps the seed; Variation picks a new one). Only the job's owner may. */
  async again(channel: ChatChannel, jobId: string, variation: boolean, reservation?: Reservation): Promise<JobRecord> {
    try {
      const previous = await this.ownedJob({ platform: channel.platform, userId: channel.userId }, jobId);
      // Rendered whole again: reused scenes of a refined clip would keep their old pictures.
      const spec = { ...previous.spec, reuse: undefined, seed: variation ? randomInt(1, 2 ** 31 - 1) : previous.spec.seed };
      return await this.start(channel, spec, reservation);
    } finally {
      reservation?.release();
    }
  }

  /**
   * Cancels the user's job (the given one, else their latest active one). A waiting job leaves the
   * queue at once; a running one is told to stop; its files are removed once the worker let go.
   * A cancelled job does not count against the daily quota.
   */
  async cancel(owner: Owner, jobId?: string): Promise<JobRecord> {
    const record = jobId ? await this.ownedJob(owner, jobId) : await this.latestActive(owner);
    if (!record) throw new UserError('job.notFound', 'You have no video in the works to cancel.');
    if (record.state === 'made') throw new UserError('job.notFound', `"${record.plan.title}" is already made and is being posted; nothing to cancel.`);
    if (!ACTIVE_STATES.includes(record.state)) {
      throw new UserError('job.notFound', `That video is already ${record.state === 'done' ? 'finished' : record.state}; nothing to cancel.`);
    }
    if (!(await this.store.cancel(record.jobId))) {
      throw new UserError('job.notFound', `"${record.plan.title}" was finished just now; nothing to cancel.`);
    }
    recordJob('cancelled');
    await this.deps.limits.refundDaily(record.quotaKey).catch((error: unknown) => this.log(`cancel ${record.jobId}: quota: ${String(error)}`));
    await this.deps.studio.renders.cancel(record.jobId).catch((error: unknown) => this.log(`cancel ${record.jobId}: ${String(error)}`));
    const channel = this.live.get(record.jobId)?.channel ?? this.resumeChannel(record);
    this.detach(record.jobId);
    await channel?.finishProgress(`🛑 "${record.plan.title}" was cancelled. Nothing was posted.`).catch(() => {});
    this.cleanUpCancelled(record.jobId);
    return { ...record, state: 'cancelled' };
  }

  /** One line per job for /status: the given job, else the user's active and last finished ones. */
  async status(owner: Owner, jobId?: string): Promise<string> {
    if (jobId) return this.describe(await this.ownedJob(owner, jobId));
    const mine = await this.store.byOwner(owner);
    const active = mine.filter((j) => ACTIVE_STATES.includes(j.state) || j.state === 'made');
    const last = mine.filter((j) => !active.includes(j)).at(-1);
    if (!active.length && !last) return 'You have no videos in the works. Start one with /generate.';
    const lines = await Promise.all(active.map((j) => this.describe(j)));
    if (last) lines.push(`Last finished: ${await this.describe(last)}`);
    return lines.join('\n');
  }

  /**
   * Takes up this platform's jobs: watches those still in the works (their status messages go
   * on being edited) and drains the outbox now and from then on. Front-ends call it once started.
   */
  async resume(): Promise<void> {
    const { renders } = this.deps.studio;
    const onEnded = () => void this.drain();
    renders.assembleEvents.on('completed', onEnded);
    renders.assembleEvents.on('failed', onEnded);
    this.stopListening = () => {
      renders.assembleEvents.off('completed', onEnded);
      renders.assembleEvents.off('failed', onEnded);
    };
    this.drainTimer = setInterval(() => void this.drain(), this.deps.drainIntervalMs ?? 1000);
    this.drainTimer.unref();
    try {
      for (const record of await this.store.active(this.deps.platform)) {
        if (this.live.has(record.jobId)) continue;
        const channel = this.resumeChannel(record);
        if (!channel) continue;
        // Recorded but never queued (the bot stopped in between): queued now.
        if (record.state === 'queued' && !(await renders.exists(record.jobId))) await this.dispatch(record);
        this.attach(record, channel);
      }
    } catch (error) {
      this.log(`resuming jobs: ${describeError(error)}`);
    }
    await this.drain();
  }

  /** Stops watching and delivering (the jobs go on in the queue and are taken up at the next start). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.stopListening?.();
    for (const jobId of [...this.live.keys()]) this.detach(jobId);
    // A post under way gets a few seconds; one cut off keeps its lease until it expires and is
    // posted by the next start (the platform may then show it twice: the price of not hanging).
    await Promise.race([this.draining?.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  private resumeChannel(record: JobRecord): ChatChannel | undefined {
    return this.deps.resume?.({ chatId: record.chatId, userId: record.owner.userId, statusRef: record.statusRef });
  }

  private async latestActive(owner: Owner): Promise<JobRecord | undefined> {
    const mine = await this.store.byOwner(owner);
    return mine.filter((j) => ACTIVE_STATES.includes(j.state)).at(-1);
  }

  private async ownedJob(owner: Owner, jobId: string): Promise<JobRecord> {
    const record = await this.store.get(jobId);
    if (!record || !sameOwner(record.owner, owner)) {
      throw new UserError('job.notFound', `I have no video "${jobId}" of yours (finished ones are kept for 30 days).`);
    }
    return record;
  }

  private async describe(record: JobRecord): Promise<string> {
    const head = `"${record.plan.title}" (${record.jobId})`;
    switch (record.state) {
      case 'queued': {
        const position = await this.deps.studio.renders.position(record.jobId).catch(() => null);
        return `${head}: queued${position ? `, number ${position} in line` : ''}.`;
      }
      case 'running': {
        const p = record.progress;
        return p ? `${head}: ${stageLabel(p.stage)} ${Math.round(p.percent)}% — ${p.message} (overall ${Math.round(p.overall)}%).` : `${head}: starting.`;
      }
      case 'made':
        return `${head}: made${record.clip ? ` (${record.clip.seconds.toFixed(1)} s)` : ''}, being posted.`;
      case 'done':
        return `${head}: done${record.clip ? ` (${record.clip.seconds.toFixed(1)} s)` : ''}.`;
      case 'cancelled':
        return `${head}: cancelled.`;
      case 'failed':
        return `${head}: failed — ${record.error ?? 'unknown error'}`;
    }
  }

  /** Shows the job in its chat: the status message with progress and place in line, until its outcome is told. */
  private attach(record: JobRecord, channel: ChatChannel): void {
    const { renders } = this.deps.studio;
    const title = record.plan.title;
    const estimate = estimateRenderSeconds(record.plan);
    const cancel = { buttons: [jobButtons.cancel(record.jobId)] };
    let startedAt = 0;
    let lastSaved = 0;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    // Set while the worker that ran this job died or was restarted, until its progress comes again.
    let resuming = false;
    const view = (p?: Progress, queuePosition?: number | null): ProgressView => {
      if (resuming) return { title, stage: p?.stage, overall: p?.overall ?? 0, message: RENDERER_RESTARTED, etaSeconds: estimate };
      if (!p) return { title, overall: 0, message: 'Queued', queuePosition, etaSeconds: estimate };
      if (!startedAt) startedAt = Date.now();
      const elapsed = (Date.now() - startedAt) / 1000;
      // The larger of two guesses: the pace so far, and what is left of the estimate.
      const byPace = p.overall >= 10 ? (elapsed * (100 - p.overall)) / p.overall : estimate;
      const byEstimate = Math.min(estimate - elapsed, (estimate * (100 - p.overall)) / 100);
      const eta = Math.max(0, byPace, byEstimate);
      return { title, stage: p.stage, percent: p.percent, overall: p.overall, message: p.message, backend: p.backend, etaSeconds: eta };
    };
    let stopped = false;
    const show = (v: ProgressView) => {
      if (stopped) return;
      channel
        .progress(v, cancel)
        .then(() => {
          // Kept so that a later process edits the same message.
          if (channel.statusMessageRef && channel.statusMessageRef !== record.statusRef) {
            record.statusRef = channel.statusMessageRef;
            return this.store.update(record.jobId, { statusRef: channel.statusMessageRef });
          }
        })
        .catch((error: unknown) => this.log(`job ${record.jobId}: status: ${describeError(error)}`));
    };
    const unwatch = renders.watch(record.jobId, (p) => {
      resuming = false;
      const first = !record.progress;
      record.progress = p;
      record.state = 'running';
      show(view(p));
      // The stored progress (for /status) is refreshed about once a second.
      if (first || Date.now() - lastSaved > 1000) {
        lastSaved = Date.now();
        this.store.update(record.jobId, { state: 'running', progress: p }).catch(() => {});
      }
    });
    // Until the worker reports, show the place in line (one question at a time: while Redis is
    // down the queue's calls wait for it).
    let asking = false;
    const poll = setInterval(() => {
      if (record.progress || stopped || asking) return;
      asking = true;
      renders
        .position(record.jobId)
        .then((position) => {
          if (!record.progress && position !== null && position > 0) show(view(undefined, position));
        }, () => {})
        .finally(() => (asking = false));
    }, this.deps.queuePollMs ?? 1000);
    poll.unref();
    const unsupervise = this.deps.studio.services.onSupervision((event) => {
      if (event.process !== 'worker' || event.kind === 'restart-failed') return;
      // A job in the worker's stages was in the one that died (assembly runs here, not there);
      // one the restarted worker handed back runs again on the new one.
      const inWorker = record.progress && record.progress.stage !== 'assemble';
      if (!inWorker && !event.jobIds?.includes(record.jobId)) return;
      resuming = true;
      show(view(record.progress));
    });
    show(view(record.progress, null));
    this.live.set(record.jobId, {
      record,
      channel,
      startedAt: Date.now(),
      settled,
      settle,
      stop: () => {
        stopped = true;
        unwatch();
        unsupervise();
        clearInterval(poll);
      },
    });
  }

  private detach(jobId: string): void {
    const live = this.live.get(jobId);
    if (!live) return;
    live.stop();
    this.live.delete(jobId);
    live.settle();
  }

  /** Posts every outcome waiting in this platform's outbox (one drain at a time; a request during one runs another). */
  private drain(): Promise<void> {
    if (this.closed && !this.draining) return Promise.resolve();
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        let waiting: Array<{ jobId: string; readyAt: number }>;
        try {
          waiting = await this.store.outbox(this.deps.platform);
        } catch {
          return; // Redis is down: logged once by the store; the next drain tries again
        }
        for (const { jobId, readyAt } of waiting) {
          if (this.closed) return;
          // A job another running process shows is posted by that process (same status message);
          // this one takes over only if that process does not within the grace period.
          if (!this.live.has(jobId) && Date.now() - readyAt < LIVE_OWNER_GRACE_MS) continue;
          await this.deliverOutcome(jobId).catch((error: unknown) => this.log(`job ${jobId}: delivery: ${describeError(error)}`));
        }
      } while (this.drainAgain && !this.closed);
    })().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async deliverOutcome(jobId: string): Promise<void> {
    if (this.delivering.has(jobId) || !(await this.store.claim(jobId, DELIVERY_LEASE_MS))) return;
    this.delivering.add(jobId);
    try {
      const record = await this.store.get(jobId);
      if (!record || record.deliveredAt || record.state === 'cancelled') {
        await this.store.delivered(jobId);
        return;
      }
      const channel = this.live.get(jobId)?.channel ?? this.resumeChannel(record);
      if (!channel) {
        // Another process of this platform may be able to (e.g. a Discord channel this one cannot reach).
        if (!this.cantDeliver.has(jobId)) this.log(`job ${jobId}: no way to reach chat ${record.chatId} from here; left in the outbox`);
        this.cantDeliver.add(jobId);
        await this.store.release(jobId);
        return;
      }
      const live = this.live.get(jobId);
      if (live) {
        live.stop();
        // Made (or failed): the user's running-job slot is free while it is being posted.
        live.record.state = record.state;
      }
      try {
        if (record.state === 'made' && record.clip) {
          await channel.progress({ title: record.plan.title, stage: 'assemble', percent: 100, overall: 100, message: 'Posting the clip' }).catch(() => {});
          await this.deliver(channel, record, record.clip);
          await this.store.delivered(jobId, 'done');
          recordJob('completed');
          await channel.finishProgress(`✅ "${record.plan.title}" is ready (${formatDuration(((record.finishedAt ?? Date.now()) - record.createdAt) / 1000)}).`).catch(() => {});
        } else {
          // One sentence, at the end of the status message: what happened and what to do.
          await channel.finishProgress(`❌ "${record.plan.title}" could not be made. ${record.error ?? 'Please try again.'}`);
          await this.store.delivered(jobId, 'failed');
          recordJob('failed');
        }
        this.detach(jobId);
      } catch (error) {
        const attempts = await this.store.deliveryAttempt(jobId);
        this.log(`job ${jobId}: posting failed (attempt ${attempts}): ${describeError(error)}`);
        if (attempts < DELIVERY_ATTEMPTS) {
          await this.store.release(jobId);
          return;
        }
        await channel.finishProgress(`❌ "${record.plan.title}" was made but could not be posted here: ${(error as Error).message}. It is stored as ${record.clip?.location ?? record.jobId}.`).catch(() => {});
        await this.store.delivered(jobId, 'failed');
        this.detach(jobId);
      }
    } finally {
      this.delivering.delete(jobId);
    }
  }

  /** The clip as a file when it fits (re-encoded if needed), else a link. */
  private async deliver(channel: ChatChannel, record: JobRecord, clip: StoredClip): Promise<void> {
    // The console user reads files on this machine: the stored clip's own path (or link) is named,
    // and nothing is copied or re-encoded.
    const local = channel.platform === 'console';
    let summary = formatClip(clip, local ? clip.location : `"${record.plan.title}"`, record.spec.planner);
    if (record.spec.voiceName && !voiceWasCloned(clip)) {
      // Said plainly where the voice is named: the saved voice was not used, and why.
      const tts = clip.backends.tts ?? 'espeak-ng (CPU)';
      const note = `Voice: ${tts} — your voice '${record.plan.voice.id}' needs a GPU worker for cloning`;
      summary = summary.includes(`Voice: ${tts}`) ? summary.replace(`Voice: ${tts}`, note) : `${summary}\n${note}.`;
    }
    const lines = [summary];
    // The CPU pictures frame the reference photo; the GPU picture workflows do not take one yet.
    if (record.spec.referenceImageKey && !/\(CPU\b/.test(clip.backends.visuals ?? '')) {
      lines.push('Your reference picture is saved; the GPU picture workflow does not use it yet.');
    }
    if (record.plan.scenes.length > 1) {
      // Discord has no free text for bots: the conversation is /chat there.
      lines.push(channel.platform === 'discord' ? 'To change one scene: /chat redo scene 2 with a sunset' : 'To change one scene, say e.g. "redo scene 2 with a sunset".');
    }
    const licences = formatLicences(clip);
    if (licences) lines.push(licences);
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
   * A cancelled job may still be running in the worker: take it out of the queue again until the
   * worker let go of it, then remove its files.
   */
  private cleanUpCancelled(jobId: string): void {
    const { renders, storage } = this.deps.studio;
    void (async () => {
      for (let i = 0; i < 900; i++) {
        const outcome = await renders.cancel(jobId).catch(() => 'unknown' as const);
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

function describeError(error: unknown): string {
  return isUserError(error) ? error.message : ((error as Error)?.stack ?? String(error));
}

function ownerKey(owner: Owner): string {
  return `${owner.platform}:${owner.userId}`;
}

function sameOwner(a: Owner, b: Owner): boolean {
  return a.platform === b.platform && a.userId === b.userId;
}
