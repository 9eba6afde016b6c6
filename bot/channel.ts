// The one narrow interface every chat front-end implements (console, Discord, Telegram). The job
// runner (bot/jobs.ts) and, later, the agent talk to a ChatChannel only; they never learn which
// platform is behind it. Also here: the platform-neutral texts and helpers the adapters share
// (progress wording, a throttled status message, pending questions with buttons).
import { randomBytes } from 'node:crypto';
import type { StageName } from '../gpu-bridge/contracts/index.ts';
import { isConnectionError, isUserError, UNAVAILABLE } from '../pipeline/errors.ts';

export type Platform = 'console' | 'discord' | 'telegram' | 'api';

export type ButtonStyle = 'primary' | 'secondary' | 'success' | 'danger';

/** A button under a message. `id` is what the front-end routes on (e.g. "job:retry:<jobId>"). */
export interface ChannelButton {
  id: string;
  label: string;
  style?: ButtonStyle;
}

/** What a status message shows about a running job; adapters turn it into text with formatProgress. */
export interface ProgressView {
  title: string;
  stage?: StageName;
  /** Progress within the stage, 0-100. */
  percent?: number;
  /** Progress of the whole job, 0-100. */
  overall: number;
  message: string;
  /** 1-based place in line while waiting; 0 or undefined once running. */
  queuePosition?: number | null;
  etaSeconds?: number;
  backend?: string;
}

export interface ChatChannel {
  readonly platform: Platform;
  /** The user this conversation is with (platform user id). */
  readonly userId: string;
  /** Where the conversation happens (channel or chat id). */
  readonly chatId: string;
  /** The largest file sendVideo may post here, in bytes. */
  readonly uploadLimitBytes: number;
  /**
   * The platform's id of the status message once posted, where a later process can edit it
   * (kept in the job record; the front-end's resume() gets it back).
   */
  readonly statusMessageRef?: string;

  /** A message in the conversation, optionally with buttons. */
  reply(text: string, options?: { buttons?: ChannelButton[] }): Promise<void>;
  /**
   * Shows the job's status: the first call posts one status message, later calls edit that same
   * message in place (throttled per platform; the latest view always wins).
   */
  progress(view: ProgressView, options?: { buttons?: ChannelButton[] }): Promise<void>;
  /** The status message's last state (buttons removed); waits for edits still pending. */
  finishProgress(text: string): Promise<void>;
  /** Posts a video file (it must fit uploadLimitBytes) with a caption and buttons. */
  sendVideo(video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void>;
  /** Posts a link instead of a file (too large to attach, or a platform without files). */
  sendLink(link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void>;
  /**
   * Asks the user to choose; resolves with the chosen button's id, or null when nobody answered
   * within timeoutMs (default 10 minutes). Only the user of this channel can answer.
   */
  ask(question: string, choices: ChannelButton[], options?: { timeoutMs?: number }): Promise<string | null>;
  /** Tells the user why something failed, privately where the platform allows (Discord: ephemeral). */
  fail(reason: unknown): Promise<void>;
}

/** What every platform channel is built with. */
export interface ChannelOptions {
  asks: PendingAsks;
  /** The configured upload limit (a platform may allow less, e.g. Discord per guild). */
  uploadLimitBytes: number;
  /** Least time between two edits of the status message. */
  progressIntervalMs: number;
  log?: (line: string) => void;
}

// ---------------------------------------------------------------------------------------------
// Texts

const STAGE_LABELS: Partial<Record<StageName, string>> = {
  validate: 'checking the job',
  plan: 'planning',
  tts: 'narration',
  visuals: 'pictures',
  lipsync: 'lip-sync',
  upscale: 'sizing',
  assemble: 'assembling',
};

export function stageLabel(stage: StageName): string {
  return STAGE_LABELS[stage] ?? stage;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function bar(percent: number, width = 12): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `${'▰'.repeat(filled)}${'▱'.repeat(width - filled)}`;
}

/** The status message's text: what is being made, where it is, how far, and about how long left. */
export function formatProgress(view: ProgressView): string {
  const lines = [`🎬 "${view.title}"`];
  if (view.queuePosition && view.queuePosition > 0) {
    lines.push(`⏳ Queued: number ${view.queuePosition} in line.`);
  } else if (view.stage) {
    const label = stageLabel(view.stage);
    const within = view.percent === undefined ? '' : ` ${Math.round(view.percent)}%`;
    lines.push(`⚙️ ${label}${within} — ${view.message}${view.backend ? ` · ${view.backend}` : ''}`);
  } else {
    lines.push(`⏳ ${view.message}`);
  }
  const eta =
    view.etaSeconds === undefined || view.overall >= 100
      ? ''
      : view.etaSeconds < 2
        ? ' · almost done'
        : ` · about ${formatDuration(view.etaSeconds)} left`;
  lines.push(`${bar(view.overall)} ${Math.round(view.overall)}%${eta}`);
  return lines.join('\n');
}

/**
 * What a failure leaves in the log: nothing for a UserError (the user was told) or for Redis being
 * unreachable (logged once per outage by the job store), else the stack.
 */
export function logUnexpected(reason: unknown, log: ((line: string) => void) | undefined): void {
  if (isUserError(reason) || typeof reason === 'string' || isConnectionError(reason)) return;
  log?.(`unexpected failure: ${(reason as Error)?.stack ?? String(reason)}`);
}

/** The text shown for an error: a UserError's own sentence, anything else a generic line. */
export function describeFailure(reason: unknown): string {
  if (isUserError(reason)) return reason.message;
  if (typeof reason === 'string') return reason;
  if (isConnectionError(reason)) return UNAVAILABLE;
  return 'Something went wrong on our side; the error was logged. Please try again.';
}

/** Cuts text to a platform's message limit without splitting a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = Array.from(text.slice(0, max - 1));
  return `${cut.join('')}…`;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the adapters

/** Runs async steps one after another (edits of one message must not overtake each other). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step, step);
    this.tail = result.catch(() => {});
    return result;
  }
}

export interface StatusContent {
  text: string;
  buttons: ChannelButton[];
}

/**
 * One status message, posted once and then edited at most every `intervalMs` (Telegram allows
 * about one edit per second per chat; Discord rate-limits webhook edits too). Intermediate views
 * are dropped; the latest one is shown when the interval allows; finish() always shows its text.
 */
export class ThrottledStatus {
  private lastApplied: StatusContent | null = null;
  private lastAt = 0;
  private pending: StatusContent | null = null;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private readonly serial = new Serial();

  constructor(
    private readonly intervalMs: number,
    /** Posts (first call) or edits the status message. */
    private readonly apply: (content: StatusContent, first: boolean) => Promise<void>,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  update(content: StatusContent): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.pending = content;
    const wait = this.lastApplied ? this.lastAt + this.intervalMs - this.now() : 0;
    if (wait <= 0 && !this.timer) return this.flush();
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, wait);
      this.timer.unref?.();
    }
    return Promise.resolve();
  }

  async finish(content: StatusContent): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = content;
    this.finished = true;
    await this.flush();
  }

  /** Whether a status message has been posted. */
  get posted(): boolean {
    return this.lastApplied !== null;
  }

  private flush(): Promise<void> {
    return this.serial.run(async () => {
      const content = this.pending;
      this.pending = null;
      if (!content || sameContent(content, this.lastApplied)) return;
      const first = this.lastApplied === null;
      this.lastApplied = content;
      this.lastAt = this.now();
      try {
        await this.apply(content, first);
      } catch (error) {
        if (first) this.lastApplied = null;
        this.onError(error);
      }
    });
  }
}

/** How one platform shows a status message; ProgressMessage decides when. */
export interface StatusMessageAdapter {
  /** Posts the status message (`first`, or where there is none to edit) or edits it in place. */
  show(content: StatusContent, first: boolean): Promise<void>;
  /** The message is finished: drop what refers to it, so that a later job posts a new one. */
  forget(): void;
}

/**
 * progress() and finishProgress() for every chat platform: one status message per job, posted on
 * the first view and then edited at most every `progressIntervalMs` (ThrottledStatus); finishing
 * shows the final text without buttons. A failed post or edit is logged, not thrown: the job goes
 * on whether or not its status could be shown.
 */
export class ProgressMessage {
  private status: ThrottledStatus;

  constructor(
    private readonly platform: Platform,
    private readonly options: Pick<ChannelOptions, 'progressIntervalMs' | 'log'>,
    private readonly adapter: StatusMessageAdapter,
  ) {
    this.status = this.newStatus();
  }

  update(view: ProgressView, buttons: ChannelButton[] = []): Promise<void> {
    return this.status.update({ text: formatProgress(view), buttons });
  }

  async finish(text: string): Promise<void> {
    await this.status.finish({ text, buttons: [] });
    // A later job on the same channel starts a new status message.
    this.status = this.newStatus();
    this.adapter.forget();
  }

  private newStatus(): ThrottledStatus {
    return new ThrottledStatus(
      this.options.progressIntervalMs,
      (content, first) => this.adapter.show(content, first),
      (error) => this.options.log?.(`${this.platform} status edit failed: ${String(error)}`),
    );
  }
}

function sameContent(a: StatusContent, b: StatusContent | null): boolean {
  return (
    b !== null &&
    a.text === b.text &&
    a.buttons.length === b.buttons.length &&
    a.buttons.every((button, i) => button.id === b.buttons[i]!.id && button.label === b.buttons[i]!.label)
  );
}

interface PendingAsk {
  userId: string;
  choices: Set<string>;
  resolve: (choice: string | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * Questions waiting for a button press. Button ids are "ask:<nonce>:<choice>"; the front-end
 * passes every pressed "ask:" id to answer(), which resolves the question that asked it.
 */
export class PendingAsks {
  private readonly pending = new Map<string, PendingAsk>();

  static isAskId(id: string): boolean {
    return id.startsWith('ask:');
  }

  /** Registers a question; returns the buttons to show (ids rewritten) and the answer. */
  open(userId: string, choices: ChannelButton[], timeoutMs = 10 * 60_000): { buttons: ChannelButton[]; answer: Promise<string | null>; nonce: string } {
    const nonce = randomBytes(6).toString('hex');
    let resolve!: (choice: string | null) => void;
    const answer = new Promise<string | null>((r) => (resolve = r));
    const timer = setTimeout(() => this.settle(nonce, null), timeoutMs);
    timer.unref?.();
    this.pending.set(nonce, { userId, choices: new Set(choices.map((c) => c.id)), resolve, timer });
    return { nonce, answer, buttons: choices.map((c) => ({ ...c, id: `ask:${nonce}:${c.id}` })) };
  }

  /**
   * A button was pressed. 'answered' when it settled a question; 'notYours' when someone other
   * than the asked user pressed it; 'expired' when the question is gone (answered or timed out).
   */
  answer(buttonId: string, userId: string): { outcome: 'answered' | 'notYours' | 'expired'; choice?: string } {
    const [, nonce = '', ...rest] = buttonId.split(':');
    const choice = rest.join(':');
    const ask = this.pending.get(nonce);
    if (!ask || !ask.choices.has(choice)) return { outcome: 'expired' };
    if (ask.userId !== userId) return { outcome: 'notYours' };
    this.settle(nonce, choice);
    return { outcome: 'answered', choice };
  }

  /** Gives up on every open question (front-end stopping). */
  closeAll(): void {
    for (const nonce of [...this.pending.keys()]) this.settle(nonce, null);
  }

  private settle(nonce: string, choice: string | null): void {
    const ask = this.pending.get(nonce);
    if (!ask) return;
    this.pending.delete(nonce);
    clearTimeout(ask.timer);
    ask.resolve(choice);
  }
}

/** Job buttons: routed by the front-end to the job runner. */
export const jobButtons = {
  cancel: (jobId: string): ChannelButton => ({ id: `job:cancel:${jobId}`, label: 'Cancel', style: 'danger' }),
  retry: (jobId: string): ChannelButton => ({ id: `job:retry:${jobId}`, label: 'Retry', style: 'secondary' }),
  variation: (jobId: string): ChannelButton => ({ id: `job:variation:${jobId}`, label: 'Variation', style: 'primary' }),
};

export function parseJobButton(id: string): { action: 'cancel' | 'retry' | 'variation'; jobId: string } | null {
  const match = /^job:(cancel|retry|variation):([a-z0-9-]{6,64})$/.exec(id);
  return match ? { action: match[1] as 'cancel' | 'retry' | 'variation', jobId: match[2]! } : null;
}
