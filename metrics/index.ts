// Prometheus metrics of the TypeScript process: one registry, the metric definitions and small
// recording functions the rest of the code calls. Every name starts with spinbot_ (the dashboards
// in deploy/grafana query these names). The HTTP side (/metrics, /healthz) is in server.ts.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

/** Stages take from a tenth of a second (CPU narration) to many minutes (GPU video models). */
const STAGE_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800];
/** Waiting in line: instant on an idle worker, up to an hour behind long GPU jobs. */
const WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];
/** Chat commands: Discord's 3 s acknowledgement deadline sits between 2.5 and 5. */
const COMMAND_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PLAN_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

export const JOB_STATUSES = ['queued', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
export const UPLOAD_REJECTION_REASONS = ['too_large', 'forbidden_host', 'download_failed', 'unsupported', 'too_short', 'too_long'] as const;
export type UploadRejectionReason = (typeof UPLOAD_REJECTION_REASONS)[number];
/** ok: a valid plan; invalid: the model's answer failed validation; error: the provider failed (unreachable, missing model...). */
export type PlanOutcome = 'ok' | 'invalid' | 'error';

const jobs = new Counter({
  name: 'spinbot_jobs_total',
  help: 'Render jobs by what happened to them: queued (submitted), completed, failed, cancelled.',
  labelNames: ['status'],
  registers: [registry],
});
const stageDuration = new Histogram({
  name: 'spinbot_stage_duration_seconds',
  help: 'Time a stage took for one job (all its scenes), by stage and backend.',
  labelNames: ['stage', 'backend'],
  buckets: STAGE_BUCKETS,
  registers: [registry],
});
const queueWait = new Histogram({
  name: 'spinbot_queue_wait_seconds',
  help: 'From submitting a job to the first progress from a worker.',
  buckets: WAIT_BUCKETS,
  registers: [registry],
});
const chatCommand = new Histogram({
  name: 'spinbot_chat_command_duration_seconds',
  help: 'Time to handle a chat command (to its reply or acknowledgement), by platform and command.',
  labelNames: ['platform', 'command'],
  buckets: COMMAND_BUCKETS,
  registers: [registry],
});
const uploadRejections = new Counter({
  name: 'spinbot_upload_rejections_total',
  help: 'Uploads refused, by reason.',
  labelNames: ['reason'],
  registers: [registry],
});
const planDuration = new Histogram({
  name: 'spinbot_plan_duration_seconds',
  help: 'Time to plan a video with the LLM, by provider and outcome (ok, invalid, error).',
  labelNames: ['provider', 'outcome'],
  buckets: PLAN_BUCKETS,
  registers: [registry],
});

// Zero series from the start: a rate() over a counter that appears only at its first event misses that event.
for (const status of JOB_STATUSES) jobs.inc({ status }, 0);
for (const reason of UPLOAD_REJECTION_REASONS) uploadRejections.inc({ reason }, 0);

/** Free-form label values from callers are cut short: a label must never carry user text. */
function label(value: string): string {
  return value.slice(0, 64) || 'unknown';
}

export function recordJob(status: JobStatus): void {
  jobs.inc({ status });
}

export function recordStage(stage: string, backend: string, seconds: number): void {
  stageDuration.observe({ stage: label(stage), backend: label(backend) }, seconds);
}

export function recordQueueWait(seconds: number): void {
  queueWait.observe(seconds);
}

/** e.g. recordChatCommand('discord', 'generate', 0.42): call where the command has been answered. */
export function recordChatCommand(platform: string, command: string, seconds: number): void {
  chatCommand.observe({ platform: label(platform), command: label(command) }, seconds);
}

export function recordUploadRejection(reason: UploadRejectionReason): void {
  uploadRejections.inc({ reason });
}

/** e.g. recordPlan('ollama', 'ok', 3.1) or recordPlan('embedded', 'invalid', 12). */
export function recordPlan(provider: string, outcome: PlanOutcome, seconds: number): void {
  planDuration.observe({ provider: label(provider), outcome }, seconds);
}

/** Seconds since a performance.now() reading. */
export function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

/**
 * One render's life in the metrics: queued once submitted, its queue wait at the first progress,
 * then exactly one of completed / failed / cancelled (only for jobs that were queued).
 */
export function trackRender(signal?: AbortSignal) {
  let submittedAt: number | undefined;
  let started = false;
  let finished = false;
  const finish = (status: JobStatus) => {
    if (submittedAt === undefined || finished) return;
    finished = true;
    recordJob(status);
  };
  return {
    queued() {
      submittedAt = performance.now();
      recordJob('queued');
    },
    progressed() {
      if (started || submittedAt === undefined) return;
      started = true;
      recordQueueWait(secondsSince(submittedAt));
    },
    completed: () => finish('completed'),
    failed(error: unknown) {
      finish(signal?.aborted || isCancellation(error) ? 'cancelled' : 'failed');
    },
  };
}

/** A user's cancel: the worker's CANCELLED stage failure, or the UserError it becomes (matched by name, not instanceof). */
function isCancellation(error: unknown): boolean {
  const e = error as { name?: string; id?: string; detail?: { code?: string } } | null;
  return (e?.name === 'StageFailure' && e.detail?.code === 'CANCELLED') || (e?.name === 'UserError' && e.id === 'render.cancelled');
}

export type QueueCounts = Partial<Record<QueueState, number>>;
let queueSource: (() => Promise<QueueCounts>) | undefined;

new Gauge({
  name: 'spinbot_queue_depth',
  help: 'Jobs in the render queue by state, read from Redis at each scrape (absent when Redis does not answer).',
  labelNames: ['state'],
  registers: [registry],
  async collect() {
    this.reset();
    if (!queueSource) return;
    try {
      const counts = await withTimeout(queueSource(), 2000);
      for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    } catch {
      // Redis down: no series rather than stale numbers or a failed scrape; /healthz says why.
    }
  },
});

/** Where spinbot_queue_depth reads from (the studio's queue); the returned function stops that. */
export function observeQueue(source: () => Promise<QueueCounts>): () => void {
  queueSource = source;
  return () => {
    if (queueSource === source) queueSource = undefined;
  };
}

/** Rejects after `ms`: ioredis queues commands while disconnected, so a call could wait forever. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
