// A Discord interaction as a ChatChannel. Messages go through the interaction's webhook token
// (first the deferred reply, then follow-ups); the status message is edited in place, throttled.
// The token lives 15 minutes: after that (or when Discord says it is gone) the conversation
// continues with ordinary channel messages that mention the user. Errors are ephemeral.
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  DiscordAPIError,
  type Client,
  MessageFlags,
  type ButtonInteraction,
  type Message,
  type RepliableInteraction,
  type SendableChannels,
} from 'discord.js';
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

const MAX_CONTENT = 2000;
/** Discord: interaction tokens are valid for 15 minutes; stop using one a little before. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
const TOKEN_MARGIN_MS = 30_000;

const STYLES: Record<NonNullable<ChannelButton['style']>, ButtonStyle> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  success: ButtonStyle.Success,
  danger: ButtonStyle.Danger,
};

export function buttonRows(buttons: ChannelButton[] | undefined): ActionRowBuilder<ButtonBuilder>[] {
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  for (let i = 0; i < (buttons?.length ?? 0) && rows.length < 5; i += 5) {
    rows.push(
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        buttons!.slice(i, i + 5).map((b) => new ButtonBuilder().setCustomId(b.id).setLabel(b.label).setStyle(STYLES[b.style ?? 'secondary'])),
      ),
    );
  }
  return rows;
}

/** Discord answers 401/50027 (Invalid Webhook Token) or 404/10015 (Unknown Webhook) once a token is gone. */
export function isTokenGone(error: unknown): boolean {
  return error instanceof DiscordAPIError && (error.code === 50027 || error.code === 10015);
}

interface Body {
  content: string;
  components: ActionRowBuilder<ButtonBuilder>[];
  files?: Array<{ attachment: string; name: string }>;
}

/** A message's text (cut to Discord's limit) with its buttons. */
function messageBody(text: string, buttons?: ChannelButton[]): Body {
  return { content: clip(text, MAX_CONTENT), components: buttonRows(buttons) };
}

/** A message this channel posted: through the interaction's webhook (`id` may be "@original"; `messageId` is its real id when known) or in the channel. */
type Ref = { kind: 'webhook'; id: string; messageId?: string } | { kind: 'channel'; message: Message };

/** The configured upload limit is capped by the interaction's own (boosted guilds allow more). */
export type DiscordChannelOptions = ChannelOptions;

export class DiscordChannel implements ChatChannel {
  readonly platform = 'discord' as const;
  readonly userId: string;
  readonly chatId: string;
  readonly uploadLimitBytes: number;
  /** Whether the deferred reply still shows "thinking…" (nothing was put into it yet). */
  private originalUsed = false;
  private ephemeralDefer = false;
  private tokenGone = false;
  private statusRef: Ref | null = null;
  private readonly progressMessage: ProgressMessage;

  constructor(
    readonly interaction: RepliableInteraction,
    private readonly options: DiscordChannelOptions,
  ) {
    this.userId = interaction.user.id;
    this.chatId = interaction.channelId ?? interaction.user.id;
    const platformLimit = interaction.attachmentSizeLimit > 0 ? interaction.attachmentSizeLimit : Number.POSITIVE_INFINITY;
    this.uploadLimitBytes = Math.min(options.uploadLimitBytes, platformLimit);
    this.progressMessage = new ProgressMessage('discord', options, {
      show: async (content, first) => {
        const body = messageBody(content.text, content.buttons);
        this.statusRef = first || !this.statusRef ? await this.post(body) : await this.edit(this.statusRef, body);
      },
      forget: () => {
        this.statusRef = null;
      },
    });
  }

  /** The status message's id, kept in the job record so that a restarted bot edits this same message. */
  get statusMessageRef(): string | undefined {
    const ref = this.statusRef;
    return ref?.kind === 'channel' ? ref.message.id : ref?.messageId;
  }

  /** Acknowledges the interaction ("thinking…"); must happen within 3 s of it arriving. */
  async acknowledge(options: { ephemeral?: boolean } = {}): Promise<void> {
    if (this.interaction.deferred || this.interaction.replied) return;
    this.ephemeralDefer = Boolean(options.ephemeral);
    await this.interaction.deferReply(options.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
  }

  /**
   * Answers a button press by editing the message it is on (e.g. the plan, with the choice shown
   * and the buttons removed); what this channel posts afterwards comes as new messages.
   */
  async acknowledgeUpdate(content: string): Promise<void> {
    const interaction = this.interaction;
    if (!interaction.isMessageComponent() || interaction.deferred || interaction.replied) return;
    await interaction.update({ content: clip(content, MAX_CONTENT), components: [] });
    this.originalUsed = true;
  }

  private tokenAlive(): boolean {
    return !this.tokenGone && Date.now() < this.interaction.createdTimestamp + TOKEN_LIFETIME_MS - TOKEN_MARGIN_MS;
  }

  private async sendable(): Promise<SendableChannels> {
    const channel = this.interaction.channel ?? (await this.interaction.client.channels.fetch(this.chatId));
    if (!channel?.isSendable()) throw new Error(`cannot post in channel ${this.chatId}`);
    return channel;
  }

  /** A new message: the deferred reply first, then follow-ups; channel messages once the token is gone. */
  private async post(body: Body): Promise<Ref> {
    if (this.tokenAlive()) {
      try {
        if (!this.interaction.deferred && !this.interaction.replied) {
          await this.interaction.reply(body);
          this.originalUsed = true;
          return { kind: 'webhook', id: '@original' };
        }
        if (!this.originalUsed) {
          const message = await this.interaction.editReply(body);
          this.originalUsed = true;
          return { kind: 'webhook', id: '@original', messageId: message.id };
        }
        const message = await this.interaction.followUp(body);
        return { kind: 'webhook', id: message.id, messageId: message.id };
      } catch (error) {
        if (!isTokenGone(error)) throw error;
        this.tokenGone = true;
      }
    }
    const channel = await this.sendable();
    const message = await channel.send({
      ...body,
      content: clip(`<@${this.userId}> ${body.content}`, MAX_CONTENT),
      allowedMentions: { users: [this.userId] },
    });
    return { kind: 'channel', message };
  }

  private async edit(ref: Ref, body: Body): Promise<Ref> {
    if (ref.kind === 'channel') {
      await ref.message.edit({ content: clip(`<@${this.userId}> ${body.content}`, MAX_CONTENT), components: body.components });
      return ref;
    }
    if (this.tokenAlive()) {
      try {
        await this.interaction.editReply({ ...body, message: ref.id });
        return ref;
      } catch (error) {
        if (!isTokenGone(error)) throw error;
        this.tokenGone = true;
      }
    }
    // The old message can no longer be edited: carry on in a new channel message.
    return this.post(body);
  }

  async reply(text: string, options?: { buttons?: ChannelButton[] }): Promise<void> {
    await this.post(messageBody(text, options?.buttons));
  }

  progress(view: ProgressView, options?: { buttons?: ChannelButton[] }): Promise<void> {
    return this.progressMessage.update(view, options?.buttons);
  }

  finishProgress(text: string): Promise<void> {
    return this.progressMessage.finish(text);
  }

  async sendVideo(video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    await this.post({ ...messageBody(video.caption, video.buttons), files: [{ attachment: video.path, name: path.basename(video.path) }] });
  }

  async sendLink(link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    await this.post(messageBody(`${link.caption}\n${link.url}`, link.buttons));
  }

  async ask(question: string, choices: ChannelButton[], options?: { timeoutMs?: number }): Promise<string | null> {
    const { buttons, answer } = this.options.asks.open(this.userId, choices, options?.timeoutMs);
    const ref = await this.post(messageBody(question, buttons));
    const choice = await answer;
    if (choice === null) {
      // Nobody answered: take the buttons away so they cannot be pressed later.
      await this.edit(ref, messageBody(`${question}\n(no answer; the question expired)`)).catch(() => {});
    }
    return choice;
  }

  async fail(reason: unknown): Promise<void> {
    // "…the error was logged" must be true.
    logUnexpected(reason, this.options.log);
    const content = clip(`⚠️ ${describeFailure(reason)}`, MAX_CONTENT);
    const ephemeral = { content, flags: MessageFlags.Ephemeral } as const;
    if (this.tokenAlive()) {
      try {
        if (!this.interaction.deferred && !this.interaction.replied) {
          await this.interaction.reply(ephemeral);
          return;
        }
        if (!this.originalUsed) {
          if (this.ephemeralDefer) {
            await this.interaction.editReply({ content, components: [] });
          } else {
            // A public "thinking…" cannot become private: remove it and answer privately.
            await this.interaction.deleteReply();
            await this.interaction.followUp(ephemeral);
          }
          this.originalUsed = true;
          return;
        }
        await this.interaction.followUp(ephemeral);
        return;
      } catch (error) {
        if (!isTokenGone(error)) throw error;
        this.tokenGone = true;
      }
    }
    await this.post({ content, components: [] });
  }
}

/**
 * A press of an "ask:" button: settles the question and takes the buttons off the message (or
 * tells a different user, privately, that the question is not theirs).
 */
export async function answerAskButton(interaction: ButtonInteraction, asks: PendingAsks): Promise<void> {
  const result = asks.answer(interaction.customId, interaction.user.id);
  if (result.outcome === 'notYours') {
    await interaction.reply({ content: '⚠️ That question is for someone else.', flags: MessageFlags.Ephemeral });
    return;
  }
  const label = (interaction.component as { label?: string | null }).label ?? result.choice;
  await interaction.update({
    content: clip(`${interaction.message.content}\n→ ${result.outcome === 'answered' ? label : '(this question has expired)'}`, MAX_CONTENT),
    components: [],
  });
}

/**
 * A job's chat on Discord without its interaction (the bot restarted since the job was asked
 * for): ordinary channel messages that mention the user. Used to go on showing a job's status and
 * to post its outcome; it cannot ask questions (there is no interaction to answer privately).
 * Given the job's status message (`statusRef`), it edits that message, the one the user already
 * sees, instead of posting a new one (a new one only when that message is gone).
 */
export class DiscordDelivery implements ChatChannel {
  readonly platform = 'discord' as const;
  readonly userId: string;
  readonly chatId: string;
  readonly uploadLimitBytes: number;
  private statusMessage: Message | null = null;
  /** The status message an earlier process showed, until it is fetched (once). */
  private earlierStatusId: string | undefined;
  private readonly progressMessage: ProgressMessage;

  constructor(
    private readonly client: Client,
    destination: { chatId: string; userId: string; statusRef?: string },
    private readonly options: Omit<ChannelOptions, 'asks'>,
  ) {
    this.chatId = destination.chatId;
    this.userId = destination.userId;
    this.earlierStatusId = destination.statusRef && /^\d+$/.test(destination.statusRef) ? destination.statusRef : undefined;
    this.uploadLimitBytes = options.uploadLimitBytes;
    this.progressMessage = new ProgressMessage('discord', options, {
      show: (content) => this.showStatus(content),
      forget: () => {
        this.statusMessage = null;
        this.earlierStatusId = undefined;
      },
    });
  }

  get statusMessageRef(): string | undefined {
    return this.statusMessage?.id ?? this.earlierStatusId;
  }

  private async showStatus(content: StatusContent): Promise<void> {
    const body = messageBody(content.text, content.buttons);
    this.statusMessage ??= await this.earlierStatus();
    // The interaction's own reply (a webhook message) sits under the user's command: no mention.
    if (this.statusMessage) await this.statusMessage.edit({ ...body, content: this.statusMessage.webhookId ? body.content : this.mention(body.content) });
    else this.statusMessage = await this.post(body);
  }

  /** The status message an earlier process posted, or null when there is none or it is gone. */
  private async earlierStatus(): Promise<Message | null> {
    const id = this.earlierStatusId;
    if (!id) return null;
    this.earlierStatusId = undefined;
    try {
      const channel = await this.client.channels.fetch(this.chatId);
      return channel?.isTextBased() ? await channel.messages.fetch(id) : null;
    } catch (error) {
      this.options.log?.(`discord: the job's status message ${id} cannot be fetched (${String(error)}); posting a new one`);
      return null;
    }
  }

  private mention(content: string): string {
    return clip(`<@${this.userId}> ${content}`, MAX_CONTENT);
  }

  private async post(body: Body): Promise<Message> {
    const channel = await this.client.channels.fetch(this.chatId);
    if (!channel?.isSendable()) throw new Error(`cannot post in channel ${this.chatId}`);
    return channel.send({ ...body, content: this.mention(body.content), allowedMentions: { users: [this.userId] } });
  }

  async reply(text: string, options?: { buttons?: ChannelButton[] }): Promise<void> {
    await this.post({ content: text, components: buttonRows(options?.buttons) });
  }

  progress(view: ProgressView, options?: { buttons?: ChannelButton[] }): Promise<void> {
    return this.progressMessage.update(view, options?.buttons);
  }

  finishProgress(text: string): Promise<void> {
    return this.progressMessage.finish(text);
  }

  async sendVideo(video: { path: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    await this.post({ content: video.caption, components: buttonRows(video.buttons), files: [{ attachment: video.path, name: path.basename(video.path) }] });
  }

  async sendLink(link: { url: string; caption: string; buttons?: ChannelButton[] }): Promise<void> {
    await this.post({ content: `${link.caption}\n${link.url}`, components: buttonRows(link.buttons) });
  }

  async ask(): Promise<string | null> {
    return null;
  }

  async fail(reason: unknown): Promise<void> {
    logUnexpected(reason, this.options.log);
    await this.post({ content: `⚠️ ${describeFailure(reason)}`, components: [] });
  }
}
