// The console as a ChatChannel: text on a stream, progress as the console's own per-stage bars
// (bot/console/progress.ts), questions answered by typing a choice. The console chat
// (bot/console/chat.ts) runs the shared job runner and conversation agent through it.
import type { Interface } from 'node:readline/promises';
import { ProgressBoard } from './console/progress.ts';
import { describeFailure, formatProgress, type ChannelButton, type ChatChannel, type ProgressView } from './channel.ts';

export interface ConsoleChannelOptions {
  output: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Answers to ask() are read from here; without one, ask() gets no answer (the console chat asks in words instead). */
  readline?: Interface;
  userId?: string;
}

export class ConsoleChannel implements ChatChannel {
  readonly platform = 'console' as const;
  readonly userId: string;
  readonly chatId = 'console';
  /** The console "posts" a local path: no upload limit. */
  readonly uploadLimitBytes = Number.MAX_SAFE_INTEGER;
  private board: ProgressBoard | null = null;
  private lastQueued = '';

  constructor(private readonly options: ConsoleChannelOptions) {
    this.userId = options.userId ?? 'local';
  }

  private say(text: string): void {
    this.options.output.write(`${text}\n`);
  }

  private buttonsLine(buttons: ChannelButton[] | undefined): string {
    return buttons?.length ? `\n${buttons.map((b) => `[${b.label}]`).join(' ')}` : '';
  }

  async reply(text: string, options?: { buttons?: ChannelButton[] }): Promise<void> {
    this.say(`${text}${this.buttonsLine(options?.buttons)}`);
  }

  async progress(view: ProgressView): Promise<void> {
    if (!view.stage || (view.queuePosition ?? 0) > 0) {
      // Waiting in line: one line per change of place.
      const line = formatProgress(view).split('\n').slice(1).join('  ');
      if (line !== this.lastQueued) this.say(line);
      this.lastQueued = line;
      return;
    }
    this.board ??= new ProgressBoard(this.options.output as NodeJS.WriteStream);
    this.board.update({ stage: view.stage, percent: view.percent ?? view.overall, message: view.message });
  }

  async finishProgress(text: string): Promise<void> {
    this.board?.complete();
    this.board = null;
    this.lastQueued = '';
    this.say(text);
  }

  async sendVideo(video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    this.say(`${video.caption}\nVideo: ${video.path}${this.buttonsLine(video.buttons)}`);
  }

  async sendLink(link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    this.say(`${link.caption}\nLink: ${link.url}${this.buttonsLine(link.buttons)}`);
  }

  async ask(question: string, choices: ChannelButton[], options?: { timeoutMs?: number }): Promise<string | null> {
    const labels = choices.map((c, i) => `${i + 1}) ${c.label}`).join('  ');
    // A timer that keeps the process alive while the question waits (AbortSignal.timeout does not).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options?.timeoutMs ?? 10 * 60_000);
    try {
      return await this.readChoice(question, labels, choices, controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readChoice(question: string, labels: string, choices: ChannelButton[], signal: AbortSignal): Promise<string | null> {
    for (;;) {
      let line: string;
      if (!this.options.readline) return null;
      try {
        line = (await this.options.readline.question(`${question}\n${labels} > `, { signal })).trim().toLowerCase();
      } catch {
        return null; // timed out, or input closed
      }
      const byNumber = choices[Number(line) - 1];
      const chosen =
        (/^\d+$/.test(line) ? byNumber : undefined) ??
        choices.find((c) => c.label.toLowerCase() === line || c.id.toLowerCase() === line) ??
        (line ? choices.find((c) => c.label.toLowerCase().startsWith(line)) : undefined);
      if (chosen) return chosen.id;
      this.say(`Please answer with one of: ${choices.map((c) => c.label).join(', ')}.`);
    }
  }

  async fail(reason: unknown): Promise<void> {
    this.board?.complete();
    this.board = null;
    this.say(`⚠️ ${describeFailure(reason)}`);
  }
}
