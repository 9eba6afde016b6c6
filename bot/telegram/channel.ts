// A Telegram chat as a ChatChannel (grammY's Api). One status message is edited in place, at most
// about once per second per chat (Telegram's edit limit); the chat shows "sending video…" while a
// clip uploads; buttons are inline keyboards, answered through callback queries.
import { GrammyError, InlineKeyboard, InputFile, type Api, type Context } from 'grammy';
import path from 'node:path';
import {
  clip,
  describeFailure,
  logUnexpected,
  PendingAsks,
  ProgressMessage,
  type ChannelButton,
  type ChannelOptions,
  type ChatChannel,
  type ProgressView,
  type StatusContent,
} from '../channel.ts';

const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

export function keyboard(buttons: ChannelButton[] | undefined): InlineKeyboard | undefined {
  if (!buttons?.length) return undefined;
  const board = new InlineKeyboard();
  buttons.forEach((b, i) => {
    if (i > 0 && i % 3 === 0) board.row();
    board.text(b.label, b.id);
  });
  return board;
}

/** "message is not modified": the edit would change nothing; not an error for us. */
export function isNotModified(error: unknown): boolean {
  return error instanceof GrammyError && error.error_code === 400 && /message is not modified/.test(error.description);
}

/** Keeps edits in one chat at least `intervalMs` apart, whichever job makes them. */
export class ChatPacer {
  private readonly next = new Map<string, number>();
  constructor(private readonly intervalMs: number) {}

  async wait(chatId: string): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next.get(chatId) ?? 0);
    this.next.set(chatId, at + this.intervalMs);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

export interface TelegramChannelOptions extends ChannelOptions {
  pacer: ChatPacer;
  /** The status message to go on editing (a job's, after a restart). */
  statusMessageId?: number;
}

export class TelegramChannel implements ChatChannel {
  readonly platform = 'telegram' as const;
  readonly userId: string;
  readonly chatId: string;
  readonly uploadLimitBytes: number;
  private statusMessageId: number | null = null;
  private readonly progressMessage: ProgressMessage;

  constructor(
    private readonly api: Api,
    chatId: number | string,
    userId: number | string,
    private readonly options: TelegramChannelOptions,
  ) {
    this.chatId = String(chatId);
    this.userId = String(userId);
    this.uploadLimitBytes = options.uploadLimitBytes;
    this.statusMessageId = options.statusMessageId ?? null;
    this.progressMessage = new ProgressMessage('telegram', options, {
      show: (content) => this.showStatus(content),
      forget: () => {
        this.statusMessageId = null;
      },
    });
  }

  /** The status message's id, once posted (kept in the job record to edit it after a restart). */
  get statusMessageRef(): string | undefined {
    return this.statusMessageId === null ? undefined : String(this.statusMessageId);
  }

  private async showStatus(content: StatusContent): Promise<void> {
    const text = clip(content.text, MAX_TEXT);
    const reply_markup = keyboard(content.buttons);
    // A channel resumed after a restart edits the status message it was given.
    if (this.statusMessageId === null) {
      const sent = await this.api.sendMessage(this.chatId, text, { reply_markup });
      this.statusMessageId = sent.message_id;
      return;
    }
    await this.options.pacer.wait(this.chatId);
    try {
      // An edit without reply_markup removes the keyboard.
      await this.api.editMessageText(this.chatId, this.statusMessageId, text, { reply_markup });
    } catch (error) {
      if (!isNotModified(error)) throw error;
    }
  }

  async reply(text: string, options?: { buttons?: ChannelButton[] }): Promise<void> {
    await this.api.sendMessage(this.chatId, clip(text, MAX_TEXT), { reply_markup: keyboard(options?.buttons) });
  }

  progress(view: ProgressView, options?: { buttons?: ChannelButton[] }): Promise<void> {
    return this.progressMessage.update(view, options?.buttons);
  }

  finishProgress(text: string): Promise<void> {
    return this.progressMessage.finish(text);
  }

  async sendVideo(video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    // "sending video…" lasts 5 s on the user's screen; repeat it while the upload runs.
    const action = () => this.api.sendChatAction(this.chatId, 'upload_video').catch(() => {});
    await action();
    const timer = setInterval(action, 4000);
    try {
      await this.api.sendVideo(this.chatId, new InputFile(video.path, path.basename(video.path)), {
        caption: clip(video.caption, MAX_CAPTION),
        supports_streaming: true,
        reply_markup: keyboard(video.buttons),
      });
    } finally {
      clearInterval(timer);
    }
  }

  async sendLink(link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    await this.api.sendMessage(this.chatId, clip(`${link.caption}\n${link.url}`, MAX_TEXT), { reply_markup: keyboard(link.buttons) });
  }

  async ask(question: string, choices: ChannelButton[], options?: { timeoutMs?: number }): Promise<string | null> {
    const { buttons, answer } = this.options.asks.open(this.userId, choices, options?.timeoutMs);
    const sent = await this.api.sendMessage(this.chatId, clip(question, MAX_TEXT), { reply_markup: keyboard(buttons) });
    const choice = await answer;
    if (choice === null) {
      await this.api.editMessageText(this.chatId, sent.message_id, clip(`${question}\n\n(no answer; the question expired)`, MAX_TEXT)).catch(() => {});
    }
    return choice;
  }

  async fail(reason: unknown): Promise<void> {
    // "…the error was logged" must be true.
    logUnexpected(reason, this.options.log);
    await this.api.sendMessage(this.chatId, clip(`⚠️ ${describeFailure(reason)}`, MAX_TEXT));
  }
}

/**
 * A press of an "ask:" button: settles the question, shows the choice and removes the keyboard;
 * the callback query is always answered (Telegram shows a spinner until it is).
 */
export async function answerAskCallback(ctx: Context, asks: PendingAsks): Promise<void> {
  const data = ctx.callbackQuery?.data ?? '';
  const result = asks.answer(data, String(ctx.from?.id));
  if (result.outcome === 'notYours') {
    await ctx.answerCallbackQuery({ text: 'That question is for someone else.', show_alert: true });
    return;
  }
  const message = ctx.callbackQuery?.message;
  const pressed = message && 'reply_markup' in message
    ? message.reply_markup?.inline_keyboard.flat().find((b) => 'callback_data' in b && b.callback_data === data)?.text
    : undefined;
  await ctx.answerCallbackQuery(result.outcome === 'answered' ? { text: pressed ?? 'OK' } : { text: 'That question has expired.' });
  if (message && 'text' in message && message.text !== undefined) {
    const note = result.outcome === 'answered' ? `→ ${pressed ?? result.choice}` : '(this question has expired)';
    await ctx.api.editMessageText(message.chat.id, message.message_id, clip(`${message.text}\n\n${note}`, MAX_TEXT)).catch(() => {});
  }
}
