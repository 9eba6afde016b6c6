// The HTTP API as a ChatChannel, so that its jobs run through the same JobRunner as chat (limits,
// quota, saved voices, job records, the 'api' outbox). An API caller polls GET /v1/videos/{id} or
// follows its event stream, and downloads the clip itself: nothing is pushed, so every message a
// chat would get is a no-op here, and the outbox's "delivery" only marks the job done.
import type { ChannelButton, ChatChannel, ProgressView } from '../bot/channel.ts';

export class ApiChannel implements ChatChannel {
  readonly platform = 'api' as const;
  /** The clip is never attached anywhere: any size "fits", so it is never re-encoded. */
  readonly uploadLimitBytes = Number.MAX_SAFE_INTEGER;

  constructor(
    /** The key's owner name. */
    readonly userId: string,
    readonly chatId: string = userId,
  ) {}

  async reply(_text: string, _options?: { buttons?: ChannelButton[] }): Promise<void> {}
  async progress(_view: ProgressView, _options?: { buttons?: ChannelButton[] }): Promise<void> {}
  async finishProgress(_text: string): Promise<void> {}
  async sendVideo(_video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {}
  async sendLink(_link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {}
  /** Nobody to ask: an API plan waits for POST /v1/videos/{id}/approve instead. */
  async ask(): Promise<string | null> {
    return null;
  }
  async fail(_reason: unknown): Promise<void> {}
}
