// Job records and the delivery outbox, in Redis rather than in a bot's memory: who asked, where to
// deliver, the plan, the state, the result and the status message, so that /status, Retry,
// Variation and delivery work after any restart and from any process. Records expire after a
// retention period. The outbox holds jobs whose outcome (clip or failure) is ready to be told in
// their chat; each platform's front-end drains it at start and while running, and a claimed lease
// plus a delivered mark make each outcome posted once.
import { Redis } from 'ioredis';
import type { Progress, RenderJob, ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { redisOptions } from '../gpu-bridge/producer.ts';
import { isConnectionError, UNAVAILABLE, UserError } from './errors.ts';
import type { RenderedClip } from './render.ts';

/** 'api': the HTTP API (api/), whose users are its keys' owners. */
export type ChatPlatform = 'console' | 'discord' | 'telegram' | 'api';

/** queued/running: in the works; made: the clip is stored and waits to be posted; done: posted. */
export type JobState = 'queued' | 'running' | 'made' | 'done' | 'failed' | 'cancelled';
export const ACTIVE_STATES: readonly JobState[] = ['queued', 'running'];

export interface JobSpec {
  plan: ScriptPlan;
  /** A saved voice of the user's to narrate with. */
  voiceName?: string;
  seed: number;
  /** A stored reference picture (kept for image-conditioned GPU visuals). */
  referenceImageKey?: string;
  /** The user's trained style (LoRA) the pictures are made in. */
  style?: NonNullable<RenderJob['style']>;
  /** Refining a made clip: its unchanged scenes (0-based) are reused instead of rendered. */
  reuse?: { jobId: string; scenes: number[] };
  /** The planner that wrote the plan, for the result line (e.g. "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded, CPU)"). */
  planner?: string;
}

/** A finished clip as its record keeps it: what the assembler produced. */
export type StoredClip = RenderedClip;

export interface JobRecord {
  jobId: string;
  owner: { platform: ChatPlatform; userId: string };
  chatId: string;
  spec: JobSpec;
  /** The plan as rendered (a saved voice resolved to its reference sample). */
  plan: ScriptPlan;
  createdAt: number;
  /** The quota counter this job was counted in (given back when it is cancelled). */
  quotaKey?: string;
  state: JobState;
  finishedAt?: number;
  progress?: Progress;
  clip?: StoredClip;
  /** The sentence the user was (or will be) told when it failed. */
  error?: string;
  /** The platform's id of the job's status message, to edit it from a later process. */
  statusRef?: string;
  deliveredAt?: number;
}

/** What the outbox holds for a job: its clip to post, or its failure to tell. */
export type Outcome = { kind: 'clip'; clip: StoredClip } | { kind: 'failed'; error: string };

const DAY = 24 * 3600;
const PREFIX = 'spinbot';
const recordKey = (jobId: string) => `${PREFIX}:job:${jobId}`;
const ownerKey = (owner: JobRecord['owner']) => `${PREFIX}:jobs:${owner.platform}:${owner.userId}`;
const activeKey = (platform: string) => `${PREFIX}:jobs-active:${platform}`;
const outboxKey = (platform: string) => `${PREFIX}:outbox:${platform}`;
const leaseKey = (jobId: string) => `${PREFIX}:outbox-lease:${jobId}`;

// Fields of the record hash: the parts written once as one JSON, the rest one field each so that
// the assembler (state, clip) and the bot (progress, status message) never overwrite each other.
const FIXED = 'fixed';

// The outcome enters the outbox only if it was not delivered yet and the job was not cancelled
// (a re-run assembly after a crash must not post a clip twice).
const POST_OUTCOME = `
local state = redis.call('HGET', KEYS[1], 'state')
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'deliveredAt') == 1 or state == 'cancelled' or state == 'done' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'outcome', ARGV[2], 'finishedAt', ARGV[3])
if ARGV[1] == 'made' then redis.call('HSET', KEYS[1], 'clip', ARGV[4]) else redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
redis.call('SREM', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[5])
return 1
`;

export interface JobStoreOptions {
  /** How long a record is kept after its last change (default 30 days). */
  retentionSeconds?: number;
  log?: (line: string) => void;
}

export class JobStore {
  readonly redis: Redis;
  private readonly retention: number;
  private down = false;

  constructor(redisUrl: string, private readonly options: JobStoreOptions = {}) {
    const { maxRetriesPerRequest: _blocking, ...connection } = redisOptions(redisUrl);
    // Fail a command at once while Redis is down (the user is told the queue is unavailable)
    // instead of queueing it until Redis returns.
    this.redis = new Redis({ ...connection, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
    this.retention = options.retentionSeconds ?? 30 * DAY;
    // One log line per outage, not one per failed call.
    this.redis.on('error', (error: Error) => this.markDown(error));
    this.redis.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.log('redis is back');
    });
  }

  private markDown(error: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log(`redis unavailable (${(error as Error)?.message ?? String(error)}); the queue is down until it answers again`);
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(`[jobs] ${l}\n`)))(line);
  }

  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not answer within 15 s')), 15_000);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Runs a Redis call; a connection failure becomes the user's "queue unavailable" sentence. */
  private async call<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (isConnectionError(error)) {
        this.markDown(error);
        throw new UserError('queue.unavailable', UNAVAILABLE, { cause: error });
      }
      throw error;
    }
  }

  /** Throws the user's "queue unavailable" sentence at once while Redis cannot be reached. */
  async available(): Promise<void> {
    await this.call(() => this.redis.ping());
  }

  /** Saves a new record; false (and nothing changed) when the job id is already taken. */
  create(record: JobRecord): Promise<boolean> {
    return this.call(async () => {
      const { state, progress, clip, error, statusRef, finishedAt, deliveredAt, ...fixed } = record;
      const key = recordKey(record.jobId);
      const created = await this.redis.hsetnx(key, FIXED, JSON.stringify(fixed));
      if (!created) return false;
      const fields: Record<string, string> = { state };
      if (statusRef) fields.statusRef = statusRef;
      await this.redis
        .multi()
        .hset(key, fields)
        .expire(key, this.retention)
        .zadd(ownerKey(record.owner), record.createdAt, record.jobId)
        .zremrangebyscore(ownerKey(record.owner), 0, Date.now() - this.retention * 1000)
        .expire(ownerKey(record.owner), this.retention)
        .sadd(activeKey(record.owner.platform), record.jobId)
        .exec();
      return true;
    });
  }

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.call(async () => parseRecord(jobId, await this.redis.hgetall(recordKey(jobId))));
  }

  /** Changes the mutable fields of a record that exists (no effect on an expired one). */
  update(jobId: string, patch: Partial<Pick<JobRecord, 'state' | 'progress' | 'error' | 'statusRef' | 'finishedAt'>>): Promise<void> {
    return this.call(async () => {
      const key = recordKey(jobId);
      const fields: Record<string, string> = {};
      for (const [name, value] of Object.entries(patch)) {
        if (value !== undefined) fields[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
      // HSET on a missing key would create a record without its fixed part.
      const script = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV)) end return 1`;
      await this.redis.eval(script, 1, key, ...Object.entries(fields).flat());
      if (patch.state && !ACTIVE_STATES.includes(patch.state)) {
        const record = await this.get(jobId);
        if (record) await this.redis.srem(activeKey(record.owner.platform), jobId);
      }
    });
  }

  /**
   * Cancels a job that is still queued or running; false when it has moved on meanwhile (e.g. its
   * clip was just made), so that a cancel and an outcome never both win.
   */
  cancel(jobId: string): Promise<boolean> {
    return this.call(async () => {
      const script = `local s = redis.call('HGET', KEYS[1], 'state')
if s == 'queued' or s == 'running' then redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[1]) return 1 end
return 0`;
      const record = await this.get(jobId);
      if (!record || (await this.redis.eval(script, 1, recordKey(jobId), String(Date.now()))) !== 1) return false;
      await this.redis.srem(activeKey(record.owner.platform), jobId);
      return true;
    });
  }

  /** The owner's records, newest last (at most `limit`). */
  byOwner(owner: JobRecord['owner'], limit = 50): Promise<JobRecord[]> {
    return this.call(async () => {
      const ids = await this.redis.zrange(ownerKey(owner), -limit, -1);
      const records = await Promise.all(ids.map((id) => this.get(id)));
      return records.filter((r): r is JobRecord => r !== undefined);
    });
  }

  /** Jobs of the platform still queued or running (to watch again after a restart). */
  active(platform: ChatPlatform): Promise<JobRecord[]> {
    return this.call(async () => {
      const ids = await this.redis.smembers(activeKey(platform));
      const records = await Promise.all(ids.map((id) => this.get(id)));
      // Expired records leave the set too.
      const gone = ids.filter((_, i) => !records[i]);
      if (gone.length) await this.redis.srem(activeKey(platform), ...gone);
      return records.filter((r): r is JobRecord => r !== undefined && ACTIVE_STATES.includes(r.state));
    });
  }

  /**
   * The job's outcome is ready: recorded and put in its platform's outbox (once; false when the
   * job is unknown here, already delivered or cancelled).
   */
  postOutcome(jobId: string, outcome: Outcome): Promise<boolean> {
    return this.call(async () => {
      const record = await this.get(jobId);
      if (!record) return false;
      const state = outcome.kind === 'clip' ? 'made' : 'failed';
      const detail = outcome.kind === 'clip' ? JSON.stringify(outcome.clip) : outcome.error;
      const keys = [recordKey(jobId), activeKey(record.owner.platform), outboxKey(record.owner.platform)];
      const posted = await this.redis.eval(POST_OUTCOME, 3, ...keys, state, outcome.kind, String(Date.now()), detail, jobId);
      return posted === 1;
    });
  }

  /** Jobs waiting in the platform's outbox, oldest first, with when their outcome was ready (ms). */
  outbox(platform: ChatPlatform): Promise<Array<{ jobId: string; readyAt: number }>> {
    return this.call(async () => {
      const flat = await this.redis.zrange(outboxKey(platform), 0, -1, 'WITHSCORES');
      const entries: Array<{ jobId: string; readyAt: number }> = [];
      for (let i = 0; i < flat.length; i += 2) entries.push({ jobId: flat[i]!, readyAt: Number(flat[i + 1]) });
      return entries;
    });
  }

  /** Takes the job's delivery for `ms` (another process or a second drain leaves it alone). */
  async claim(jobId: string, ms: number): Promise<boolean> {
    return this.call(async () => (await this.redis.set(leaseKey(jobId), String(process.pid), 'PX', ms, 'NX')) === 'OK');
  }

  /** The outcome was posted (its state now `state`; unchanged when not given): out of the outbox for good. */
  delivered(jobId: string, state?: 'done' | 'failed'): Promise<void> {
    return this.call(async () => {
      const record = await this.get(jobId);
      const multi = this.redis.multi();
      if (record) {
        multi.hset(recordKey(jobId), { deliveredAt: String(Date.now()), ...(state ? { state } : {}) }).zrem(outboxKey(record.owner.platform), jobId);
      }
      await multi.del(leaseKey(jobId)).exec();
    });
  }

  /** Gives the lease back after a failed attempt (the next drain tries again). */
  release(jobId: string): Promise<void> {
    return this.call(async () => void (await this.redis.del(leaseKey(jobId))));
  }

  /** Counts a failed delivery attempt; returns how many there were. */
  deliveryAttempt(jobId: string): Promise<number> {
    return this.call(() => this.redis.hincrby(recordKey(jobId), 'deliveryAttempts', 1));
  }

  /** A small per-chat note with an expiry (e.g. Telegram's "the next message is the change"). */
  async setNote(name: string, value: string, seconds: number): Promise<void> {
    await this.call(() => this.redis.set(`${PREFIX}:note:${name}`, value, 'EX', seconds));
  }

  /** Reads and removes a note. */
  async takeNote(name: string): Promise<string | undefined> {
    return this.call(async () => (await this.redis.getdel(`${PREFIX}:note:${name}`)) ?? undefined);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function parseRecord(jobId: string, hash: Record<string, string>): JobRecord | undefined {
  if (!hash[FIXED]) return undefined;
  const fixed = JSON.parse(hash[FIXED]) as Omit<JobRecord, 'state'>;
  const num = (v?: string) => (v === undefined ? undefined : Number(v));
  return {
    ...fixed,
    jobId,
    state: (hash.state as JobState) ?? 'queued',
    progress: hash.progress ? (JSON.parse(hash.progress) as Progress) : undefined,
    clip: hash.clip ? (JSON.parse(hash.clip) as StoredClip) : undefined,
    error: hash.error,
    statusRef: hash.statusRef,
    finishedAt: num(hash.finishedAt),
    deliveredAt: num(hash.deliveredAt),
  };
}
