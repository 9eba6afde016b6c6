// A local Discord (API v10) emulator: REST + gateway + CDN, in memory, on 127.0.0.1:<free port>.
// The real discord.js client connects to it (`rest: { api: emulator.restBase }`); tests play users
// through dispatchInteraction()/sendUserMessage() and read back what the bot did.
// Behaviour follows Discord's documented semantics where the product depends on it: the 3 s ack
// window, the 15 min interaction token, "first follow-up after a defer replaces the loading
// message", v10 attachment-list replacement on edits, the 10 MiB upload limit, error codes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { parseBody, sendJson, type MultipartOptions, type ParsedBody, type UploadedPart } from '../shared/http.ts';
import { createWaiters } from '../shared/wait.ts';

// files[n] carries its attachment index; payload_json carries the message body
const DISCORD_MULTIPART: MultipartOptions = { indexFromField: true, payloadJson: true };

// ---------------------------------------------------------------------------------------------
// Public types

export type Json = Record<string, any>;

export interface DiscordUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: string | null;
  bot?: boolean;
  public_flags?: number;
}

export interface DiscordAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type: string;
  description?: string;
  ephemeral?: boolean;
  width?: number;
  height?: number;
  duration_secs?: number;
}

/** A file the bot uploaded (or the test registered), with its bytes. */
export interface StoredFile {
  attachmentId: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
  url: string;
}

export interface MessageVersion {
  at: number;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: DiscordAttachment[];
  flags: number;
}

export type StoredMessageKind = 'interaction-response' | 'follow-up' | 'channel' | 'user';

export interface StoredMessage {
  id: string;
  channelId: string;
  guildId: string | null;
  kind: StoredMessageKind;
  interactionId: string | null;
  author: DiscordUser;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: DiscordAttachment[];
  flags: number;
  /** flag 64 */
  readonly ephemeral: boolean;
  /** flag 128: a deferred response still showing "<bot> is thinking..." */
  readonly loading: boolean;
  /** every file ever uploaded to this message, in upload order (replaced ones included) */
  files: StoredFile[];
  /** every state of the message, the first one included */
  versions: MessageVersion[];
  deleted: boolean;
  createdAt: number;
  editedAt: number | null;
  messageReference: Json | null;
  /** the message as the REST API returns it */
  raw(): Json;
}

export interface InteractionAck {
  type: number;
  typeName: string;
  data: Json | undefined;
  ephemeral: boolean;
  /** ms between the dispatch of INTERACTION_CREATE and the arrival of the callback */
  afterMs: number;
  files: StoredFile[];
  withResponse: boolean;
}

export interface InteractionHandle {
  readonly id: string;
  readonly token: string;
  readonly type: number;
  readonly payload: Json;
  readonly dispatchedAt: number;
  readonly acked: InteractionAck | undefined;
  /** resolves once the bot answered POST /interactions/{id}/{token}/callback */
  ack(timeoutMs?: number): Promise<InteractionAck>;
  /** the @original response (for type 6/7 acks: the message the component is on) */
  original(): StoredMessage | undefined;
  followUps(): StoredMessage[];
  /** original + follow-ups */
  messages(): StoredMessage[];
  /** every file uploaded through this interaction's token, in order */
  uploads(): StoredFile[];
  autocompleteChoices(): Json[] | undefined;
  modal(): Json | undefined;
  waitFor<T>(predicate: (h: InteractionHandle) => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** make the 15-minute token expire now (webhook routes then answer 401 Invalid Webhook Token) */
  expireToken(): void;
}

export type OptionValue = string | number | boolean | DiscordAttachment;

export interface RawCommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: RawCommandOption[];
  focused?: boolean;
}

export interface DispatchInteractionOptions {
  /** 2 APPLICATION_COMMAND (default), 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE, 5 MODAL_SUBMIT */
  type?: 2 | 3 | 4 | 5;
  commandName?: string;
  /** name -> value (types come from the registered command when there is one), or raw options */
  options?: Record<string, OptionValue> | RawCommandOption[];
  subcommand?: string;
  /** extra entries for data.resolved.attachments (attachment-typed options are added automatically) */
  attachments?: DiscordAttachment[];
  /** name of the option being typed, for AUTOCOMPLETE */
  focused?: string;
  customId?: string;
  /** 2 button (default), 3 string select */
  componentType?: number;
  values?: string[];
  /** the message carrying the component: a stored message id (the emulator checks the component exists) */
  messageId?: string;
  /** or a raw message object */
  message?: Json;
  /** modal submit: text input custom_id -> value */
  fields?: Record<string, string>;
  user?: Partial<DiscordUser>;
  /** null: a DM with the bot */
  guildId?: string | null;
  channelId?: string;
  locale?: string;
  roles?: string[];
  memberPermissions?: string;
}

export interface SendUserMessageOptions {
  channelId?: string;
  user?: Partial<DiscordUser>;
  content: string;
  attachments?: DiscordAttachment[];
  /** DM the bot instead of posting in a guild channel */
  dm?: boolean;
}

export interface RequestLogEntry {
  at: number;
  method: string;
  /** path below /api/v10, decoded, e.g. /webhooks/1/tok/messages/@original */
  path: string;
  /** the path as sent, e.g. /api/v10/webhooks/1/tok/messages/%40original */
  rawPath: string;
  query: Record<string, string>;
  body: unknown;
  files: Array<{ field: string; filename: string; size: number; contentType: string }>;
  status: number;
}

export interface InjectedError {
  method?: string;
  /** matched against the decoded path below /api/v10 */
  path: string | RegExp;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  times?: number;
}

export interface GuildConfig {
  id?: string;
  name?: string;
  channels?: Array<{ id?: string; name?: string }>;
}

export interface DiscordEmulatorOptions {
  botToken?: string;
  applicationId?: string;
  botUsername?: string;
  /** default: one guild with one text channel "general" */
  guilds?: GuildConfig[];
  heartbeatIntervalMs?: number;
  /** Discord: 3 s; a later callback answers 404 Unknown interaction */
  ackDeadlineMs?: number;
  /** Discord: 15 min */
  tokenLifetimeMs?: number;
  /** Discord: 10 MiB without boosts; larger requests answer 413 */
  uploadLimitBytes?: number;
  /** print every REST call and gateway op */
  log?: boolean;
}

export interface GatewayStats {
  connections: number;
  identifies: Json[];
  resumes: number;
  heartbeats: number;
  /** query strings the clients connected with, e.g. { v: '10', encoding: 'json' } */
  connectQueries: Array<Record<string, string>>;
}

export interface DiscordEmulator {
  readonly port: number;
  /** give this to discord.js: new Client({ rest: { api: restBase } }) */
  readonly restBase: string;
  readonly gatewayUrl: string;
  readonly cdnBase: string;
  readonly applicationId: string;
  readonly botToken: string;
  readonly botUser: DiscordUser;
  /** the first configured guild and its first channel: the defaults of dispatchInteraction */
  readonly guildId: string;
  readonly channelId: string;
  readonly defaultUser: DiscordUser;
  stop(): Promise<void>;

  dispatchInteraction(options: DispatchInteractionOptions): Promise<InteractionHandle>;
  /** a user posts a message (MESSAGE_CREATE); content is blanked as Discord does without the MESSAGE_CONTENT intent */
  sendUserMessage(options: SendUserMessageOptions): Promise<StoredMessage>;
  /** raw gateway dispatch to every ready session */
  dispatch(event: string, data: Json): void;
  registerAttachment(file: {
    bytes: Uint8Array;
    filename: string;
    contentType?: string;
    channelId?: string;
    width?: number;
    height?: number;
    durationSecs?: number;
  }): DiscordAttachment;

  /** non-deleted messages of a channel, oldest first */
  messages(channelId?: string, options?: { includeDeleted?: boolean }): StoredMessage[];
  message(id: string): StoredMessage | undefined;
  interaction(id: string): InteractionHandle | undefined;
  interactions(): InteractionHandle[];
  /** global commands, or those of a guild */
  commands(guildId?: string): Json[];
  /** bytes behind an attachment id or CDN url */
  fileBytes(attachmentIdOrUrl: string): Buffer | undefined;
  requests(): RequestLogEntry[];
  typing(channelId: string): number;
  gateway(): GatewayStats;
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  waitForReady(timeoutMs?: number): Promise<Json>;
  injectError(error: InjectedError): void;
  /** close every gateway connection with this code (4000 lets clients resume) */
  disconnectGateway(code?: number): void;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const DISCORD_EPOCH = 1420070400000n;
let snowflakeIncrement = 0n;
function snowflake(): string {
  snowflakeIncrement = (snowflakeIncrement + 1n) % 4096n;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | snowflakeIncrement).toString();
}

function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

const CALLBACK_TYPES: Record<number, string> = {
  1: 'PONG',
  4: 'CHANNEL_MESSAGE_WITH_SOURCE',
  5: 'DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE',
  6: 'DEFERRED_UPDATE_MESSAGE',
  7: 'UPDATE_MESSAGE',
  8: 'APPLICATION_COMMAND_AUTOCOMPLETE_RESULT',
  9: 'MODAL',
  10: 'PREMIUM_REQUIRED',
  12: 'LAUNCH_ACTIVITY',
};

const ALLOWED_CALLBACKS: Record<number, number[]> = {
  2: [4, 5, 9],
  3: [4, 5, 6, 7, 9],
  4: [8],
  5: [4, 5, 6, 7],
};

const FLAG_EPHEMERAL = 64;
const FLAG_LOADING = 128;
const INTENT_GUILDS = 1 << 0;
const INTENT_GUILD_MESSAGES = 1 << 9;
const INTENT_DIRECT_MESSAGES = 1 << 12;
const INTENT_MESSAGE_CONTENT = 1 << 15;
const ALL_PERMISSIONS = '2251799813685247';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(String(body.message));
  }
}

const err = {
  unauthorized: () => new HttpError(401, { message: '401: Unauthorized', code: 0 }),
  notFound: () => new HttpError(404, { message: '404: Not Found', code: 0 }),
  unknownInteraction: () => new HttpError(404, { message: 'Unknown interaction', code: 10062 }),
  alreadyAcked: () => new HttpError(400, { message: 'Interaction has already been acknowledged.', code: 40060 }),
  invalidWebhookToken: () => new HttpError(401, { message: 'Invalid Webhook Token', code: 50027 }),
  unknownWebhook: () => new HttpError(404, { message: 'Unknown Webhook', code: 10015 }),
  unknownMessage: () => new HttpError(404, { message: 'Unknown Message', code: 10008 }),
  unknownChannel: () => new HttpError(404, { message: 'Unknown Channel', code: 10003 }),
  unknownGuild: () => new HttpError(404, { message: 'Unknown Guild', code: 10004 }),
  unknownApplication: () => new HttpError(404, { message: 'Unknown Application', code: 10002 }),
  unknownCommand: () => new HttpError(404, { message: 'Unknown application command', code: 10063 }),
  emptyMessage: () => new HttpError(400, { message: 'Cannot send an empty message', code: 50006 }),
  tooLarge: () => new HttpError(413, { message: 'Request entity too large', code: 40005 }),
  cannotEditOthers: () => new HttpError(403, { message: 'Cannot edit a message authored by another user', code: 50005 }),
  invalidForm: (path: string, code: string, message: string) => {
    // Discord nests errors by path: { content: { _errors: [...] } }
    const errors: Json = {};
    let cursor = errors;
    const parts = path.split('.');
    parts.forEach((part, i) => {
      if (i === parts.length - 1) cursor[part] = { _errors: [{ code, message }] };
      else cursor = cursor[part] = {};
    });
    return new HttpError(400, { message: 'Invalid Form Body', code: 50035, errors });
  },
};

function findComponent(components: Json[], customId: string): Json | undefined {
  for (const component of components) {
    if (component.custom_id === customId) return component;
    if (Array.isArray(component.components)) {
      const inner = findComponent(component.components, customId);
      if (inner) return inner;
    }
    if (component.accessory) {
      const inner = findComponent([component.accessory], customId);
      if (inner) return inner;
    }
  }
  return undefined;
}

function validateComponents(components: unknown): void {
  if (components == null) return;
  if (!Array.isArray(components)) throw err.invalidForm('components', 'MODEL_TYPE_CONVERT', 'Must be an array.');
  if (components.length > 5 && components.every((c: Json) => c.type === 1)) {
    throw err.invalidForm('components', 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  }
  components.forEach((row: Json, i: number) => {
    if (row.type === 1) {
      const inner: Json[] = Array.isArray(row.components) ? row.components : [];
      if (inner.length === 0 || inner.length > 5) {
        throw err.invalidForm(`components.${i}.components`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
      }
      inner.forEach((c, j) => {
        if (typeof c.custom_id === 'string' && c.custom_id.length > 100) {
          throw err.invalidForm(`components.${i}.components.${j}.custom_id`, 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
        }
        if (typeof c.label === 'string' && c.label.length > 80) {
          throw err.invalidForm(`components.${i}.components.${j}.label`, 'BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.');
        }
        if (c.type === 2 && c.style !== 5 && c.style !== 6 && typeof c.custom_id !== 'string') {
          throw err.invalidForm(`components.${i}.components.${j}.custom_id`, 'BASE_TYPE_REQUIRED', 'This field is required');
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Internal state types

interface InteractionState {
  id: string;
  token: string;
  type: number;
  payload: Json;
  dispatchedAt: number;
  channelId: string;
  guildId: string | null;
  user: DiscordUser;
  ack?: InteractionAck;
  originalMessageId?: string;
  sourceMessageId?: string;
  followUpIds: string[];
  uploads: StoredFile[];
  tokenExpired: boolean;
  autocompleteChoices?: Json[];
  modal?: Json;
  handle: InteractionHandle;
}

interface ChannelState {
  id: string;
  type: number;
  guildId: string | null;
  name: string | null;
  recipient?: DiscordUser;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  identify: Json;
  events: Array<{ s: number; t: string; d: Json }>;
  connection: Connection | null;
}

interface Connection {
  ws: WebSocket;
  session: Session | null;
  query: Record<string, string>;
  deflate: zlib.Deflate | null;
  sendChain: Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export async function startDiscordEmulator(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const applicationId = options.applicationId ?? snowflake();
  const botToken =
    options.botToken ?? `${Buffer.from(applicationId).toString('base64url')}.${randomToken(5)}.${randomToken(28)}`;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41250;
  const ackDeadlineMs = options.ackDeadlineMs ?? 3000;
  const tokenLifetimeMs = options.tokenLifetimeMs ?? 15 * 60 * 1000;
  const uploadLimitBytes = options.uploadLimitBytes ?? 10 * 1024 * 1024;
  const log = options.log ? (...args: unknown[]) => console.log('[discord-emu]', ...args) : () => {};

  const botUser: DiscordUser = {
    id: applicationId,
    username: options.botUsername ?? 'MySpinBot',
    global_name: null,
    discriminator: '0',
    avatar: null,
    bot: true,
    public_flags: 0,
  };
  const application: Json = {
    id: applicationId,
    name: botUser.username,
    icon: null,
    description: '',
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: randomBytes(32).toString('hex'),
    flags: 0,
    bot: botUser,
    team: null,
    owner: { id: snowflake(), username: 'owner', global_name: 'Owner', discriminator: '0', avatar: null },
    install_params: { scopes: ['bot', 'applications.commands'], permissions: '0' },
  };
  const defaultUser: DiscordUser = {
    id: snowflake(),
    username: 'alice',
    global_name: 'Alice',
    discriminator: '0',
    avatar: null,
    public_flags: 0,
  };

  // guilds and channels
  const guilds = new Map<string, { id: string; name: string; channelIds: string[]; joinedAt: string }>();
  const channels = new Map<string, ChannelState>();
  for (const config of options.guilds ?? [{}]) {
    const id = config.id ?? snowflake();
    const channelConfigs = config.channels ?? [{ name: 'general' }];
    const channelIds: string[] = [];
    for (const channel of channelConfigs) {
      const channelId = channel.id ?? snowflake();
      channels.set(channelId, { id: channelId, type: 0, guildId: id, name: channel.name ?? 'general' });
      channelIds.push(channelId);
    }
    guilds.set(id, { id, name: config.name ?? 'MySpinBot Test Guild', channelIds, joinedAt: new Date().toISOString() });
  }
  const firstGuild = [...guilds.values()][0];
  if (!firstGuild || firstGuild.channelIds.length === 0) throw new Error('discord emulator: need a guild with a channel');
  const defaultGuildId = firstGuild.id;
  const defaultChannelId = firstGuild.channelIds[0]!;

  const messages = new Map<string, StoredMessage>();
  const messageOrder: string[] = [];
  const cdn = new Map<string, StoredFile>();
  const interactions = new Map<string, InteractionState>();
  const interactionsByToken = new Map<string, InteractionState>();
  const commands = new Map<string, Json[]>(); // 'global' | guildId
  const requestLog: RequestLogEntry[] = [];
  const typingCounts = new Map<string, number>();
  const injected: InjectedError[] = [];
  const sessions = new Map<string, Session>();
  const connections = new Set<Connection>();
  const stats: GatewayStats = { connections: 0, identifies: [], resumes: 0, heartbeats: 0, connectQueries: [] };

  // change notification for waitFor
  const { changed, waitFor, rejectAll: rejectWaiters } = createWaiters('discord emulator');

  // --- server
  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        sendJson(res, e.status, e.body);
        return;
      }
      console.error('[discord-emu] internal error', e);
      if (!res.headersSent) sendJson(res, 500, { message: '500: Internal Server Error', code: 0 });
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/gateway')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onGatewayConnection(ws, Object.fromEntries(url.searchParams)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const gatewayUrl = `ws://127.0.0.1:${port}/gateway`;

  // --- messages and files

  function storeFile(bytes: Buffer, filename: string, contentType: string, channelId: string, ephemeral = false): StoredFile {
    const attachmentId = snowflake();
    const ex = Math.floor(Date.now() / 1000 + 86400).toString(16);
    const is = Math.floor(Date.now() / 1000).toString(16);
    const hm = randomBytes(32).toString('hex');
    const prefix = ephemeral ? 'ephemeral-attachments' : 'attachments';
    const url = `${origin}/${prefix}/${channelId}/${attachmentId}/${encodeURIComponent(filename)}?ex=${ex}&is=${is}&hm=${hm}&`;
    const file: StoredFile = { attachmentId, filename, contentType, bytes, url };
    cdn.set(attachmentId, file);
    return file;
  }

  function attachmentOf(file: StoredFile, extra: Partial<DiscordAttachment> = {}): DiscordAttachment {
    return {
      id: file.attachmentId,
      filename: file.filename,
      size: file.bytes.length,
      url: file.url,
      proxy_url: file.url.replace(`${origin}/`, `${origin}/media/`),
      content_type: file.contentType,
      ...extra,
    };
  }

  function snapshot(msg: StoredMessage): MessageVersion {
    return {
      at: Date.now(),
      content: msg.content,
      embeds: structuredClone(msg.embeds),
      components: structuredClone(msg.components),
      attachments: msg.attachments.map((a) => ({ ...a })),
      flags: msg.flags,
    };
  }

  function messageType(msg: StoredMessage): number {
    if (msg.kind === 'interaction-response') {
      const state = msg.interactionId ? interactions.get(msg.interactionId) : undefined;
      return state?.type === 2 ? 20 : 0;
    }
    return msg.messageReference ? 19 : 0;
  }

  function toApiMessage(msg: StoredMessage): Json {
    const state = msg.interactionId ? interactions.get(msg.interactionId) : undefined;
    const api: Json = {
      id: msg.id,
      type: messageType(msg),
      channel_id: msg.channelId,
      author: { ...msg.author },
      content: msg.content,
      timestamp: new Date(msg.createdAt).toISOString(),
      edited_timestamp: msg.editedAt ? new Date(msg.editedAt).toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: msg.attachments.map((a) => ({ ...a })),
      embeds: structuredClone(msg.embeds),
      pinned: false,
      flags: msg.flags,
      components: structuredClone(msg.components),
    };
    if (msg.guildId) api.guild_id = msg.guildId;
    if (msg.messageReference) api.message_reference = { ...msg.messageReference, type: 0 };
    if (state && msg.kind !== 'channel' && msg.kind !== 'user') {
      api.webhook_id = applicationId;
      api.application_id = applicationId;
      api.interaction_metadata = {
        id: state.id,
        type: state.type,
        user: { ...state.user },
        authorizing_integration_owners: state.payload.authorizing_integration_owners,
        ...(state.type === 2 ? { name: state.payload.data?.name, command_type: 1 } : {}),
      };
      if (state.type === 2) {
        api.interaction = { id: state.id, type: state.type, name: state.payload.data?.name, user: { ...state.user } };
      }
    }
    return api;
  }

  function createMessage(init: {
    channelId: string;
    guildId: string | null;
    kind: StoredMessageKind;
    interactionId?: string | null;
    author?: DiscordUser;
    flags?: number;
    messageReference?: Json | null;
  }): StoredMessage {
    const msg: StoredMessage = {
      id: snowflake(),
      channelId: init.channelId,
      guildId: init.guildId,
      kind: init.kind,
      interactionId: init.interactionId ?? null,
      author: init.author ?? botUser,
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      flags: init.flags ?? 0,
      get ephemeral() {
        return (this.flags & FLAG_EPHEMERAL) !== 0;
      },
      get loading() {
        return (this.flags & FLAG_LOADING) !== 0;
      },
      files: [],
      versions: [],
      deleted: false,
      createdAt: Date.now(),
      editedAt: null,
      messageReference: init.messageReference ?? null,
      raw() {
        return toApiMessage(this);
      },
    };
    messages.set(msg.id, msg);
    messageOrder.push(msg.id);
    return msg;
  }

  function checkUploadSize(files: UploadedPart[]): void {
    const total = files.reduce((sum, f) => sum + f.bytes.length, 0);
    if (total > uploadLimitBytes) throw err.tooLarge();
  }

  /** applies a create/edit body; returns the files stored */
  function applyMessageBody(msg: StoredMessage, body: Json, parts: UploadedPart[], isCreate: boolean): StoredFile[] {
    if (body.content != null && typeof body.content === 'string' && body.content.length > 2000) {
      throw err.invalidForm('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    }
    if (Array.isArray(body.embeds) && body.embeds.length > 10) {
      throw err.invalidForm('embeds', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    }
    validateComponents(body.components);
    checkUploadSize(parts);

    const ephemeralFiles = (msg.flags & FLAG_EPHEMERAL) !== 0;
    const stored = parts.map((part) => ({
      part,
      file: storeFile(part.bytes, part.filename, part.contentType, msg.channelId, ephemeralFiles),
    }));
    let attachments: DiscordAttachment[];
    if (Array.isArray(body.attachments)) {
      // v10: the list is the complete set after the request: kept ids + new uploads by index
      attachments = [];
      const used = new Set<StoredFile>();
      for (const entry of body.attachments as Json[]) {
        const existing = msg.attachments.find((a) => a.id === String(entry.id));
        if (existing) {
          attachments.push({ ...existing, ...(entry.description !== undefined ? { description: entry.description } : {}) });
          continue;
        }
        const upload = stored.find((s) => s.part.index === Number(entry.id));
        if (!upload) {
          throw err.invalidForm('attachments', 'ATTACHMENT_NOT_FOUND', `Attachment ${String(entry.id)} not found in the request`);
        }
        used.add(upload.file);
        if (typeof entry.filename === 'string') upload.file.filename = entry.filename;
        attachments.push(
          attachmentOf(upload.file, {
            ...(entry.description != null ? { description: entry.description } : {}),
            ...(entry.duration_secs != null ? { duration_secs: entry.duration_secs } : {}),
            ...(ephemeralFiles ? { ephemeral: true } : {}),
          }),
        );
      }
      for (const s of stored) if (!used.has(s.file)) attachments.push(attachmentOf(s.file));
    } else {
      attachments = [...(isCreate ? [] : msg.attachments), ...stored.map((s) => attachmentOf(s.file))];
    }

    const nextContent = 'content' in body ? (body.content ?? '') : msg.content;
    const nextEmbeds = 'embeds' in body ? (body.embeds ?? []) : msg.embeds;
    const nextComponents = 'components' in body ? (body.components ?? []) : msg.components;
    if (isCreate && !nextContent && nextEmbeds.length === 0 && nextComponents.length === 0 && attachments.length === 0 && !body.sticker_ids?.length && !body.poll) {
      throw err.emptyMessage();
    }
    msg.content = String(nextContent);
    msg.embeds = nextEmbeds;
    msg.components = nextComponents;
    msg.attachments = attachments;
    if (isCreate && typeof body.flags === 'number') msg.flags |= body.flags & (FLAG_EPHEMERAL | 4 | 4096 | 32768);
    if (!isCreate && typeof body.flags === 'number') {
      // only SUPPRESS_EMBEDS may be toggled on edits
      msg.flags = (msg.flags & ~4) | (body.flags & 4);
    }
    const files = stored.map((s) => s.file);
    msg.files.push(...files);
    if (!isCreate) msg.editedAt = Date.now();
    msg.versions.push(snapshot(msg));
    return files;
  }

  // --- interactions

  function interactionFromToken(appId: string, token: string): InteractionState {
    if (appId !== applicationId) throw err.unknownWebhook();
    const state = interactionsByToken.get(token);
    if (!state) throw err.invalidWebhookToken();
    if (state.tokenExpired || Date.now() - state.dispatchedAt > tokenLifetimeMs) throw err.invalidWebhookToken();
    return state;
  }

  function channelObjectFor(channelId: string, user: DiscordUser): Json {
    const channel = channels.get(channelId);
    if (!channel || channel.type === 1) {
      return { id: channelId, type: 1, flags: 0, last_message_id: null, recipients: [{ ...(channel?.recipient ?? user) }] };
    }
    return {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guildId,
      name: channel.name,
      position: 0,
      parent_id: null,
      nsfw: false,
      topic: null,
      rate_limit_per_user: 0,
      last_message_id: null,
      flags: 0,
      permissions: ALL_PERMISSIONS,
    };
  }

  function dmChannelFor(user: DiscordUser): ChannelState {
    for (const channel of channels.values()) {
      if (channel.type === 1 && channel.recipient?.id === user.id) return channel;
    }
    const channel: ChannelState = { id: snowflake(), type: 1, guildId: null, name: null, recipient: user };
    channels.set(channel.id, channel);
    return channel;
  }

  function findCommand(name: string, guildId: string | null): Json | undefined {
    const scoped = guildId ? commands.get(guildId)?.find((c) => c.name === name) : undefined;
    return scoped ?? commands.get('global')?.find((c) => c.name === name);
  }

  function inferOptionType(value: OptionValue): number {
    if (typeof value === 'boolean') return 5;
    if (typeof value === 'number') return Number.isInteger(value) ? 4 : 10;
    if (typeof value === 'object') return 11;
    return 3;
  }

  function buildOptions(
    input: DispatchInteractionOptions['options'],
    definitions: Json[] | undefined,
    resolvedAttachments: Record<string, DiscordAttachment>,
    focused: string | undefined,
  ): RawCommandOption[] {
    if (!input) return [];
    if (Array.isArray(input)) return input;
    return Object.entries(input).map(([name, value]) => {
      const definition = definitions?.find((d) => d.name === name);
      const type: number = definition?.type ?? inferOptionType(value);
      const option: RawCommandOption = { name, type, value: undefined };
      if (typeof value === 'object') {
        resolvedAttachments[value.id] = value;
        option.value = value.id;
      } else {
        option.value = value;
      }
      if (focused === name) option.focused = true;
      return option;
    });
  }

  function makeHandle(stateRef: () => InteractionState): InteractionHandle {
    const handle: InteractionHandle = {
      get id() {
        return stateRef().id;
      },
      get token() {
        return stateRef().token;
      },
      get type() {
        return stateRef().type;
      },
      get payload() {
        return stateRef().payload;
      },
      get dispatchedAt() {
        return stateRef().dispatchedAt;
      },
      get acked() {
        return stateRef().ack;
      },
      ack(timeoutMs = 5000) {
        return waitFor(() => stateRef().ack, timeoutMs);
      },
      original() {
        const id = stateRef().originalMessageId;
        return id ? messages.get(id) : undefined;
      },
      followUps() {
        return stateRef().followUpIds.map((id) => messages.get(id)!).filter(Boolean);
      },
      messages() {
        const original = handle.original();
        return [...(original ? [original] : []), ...handle.followUps()];
      },
      uploads() {
        return [...stateRef().uploads];
      },
      autocompleteChoices() {
        return stateRef().autocompleteChoices;
      },
      modal() {
        return stateRef().modal;
      },
      waitFor(predicate, timeoutMs) {
        return waitFor(() => predicate(handle), timeoutMs);
      },
      expireToken() {
        stateRef().tokenExpired = true;
      },
    };
    return handle;
  }

  async function dispatchInteraction(opts: DispatchInteractionOptions): Promise<InteractionHandle> {
    await waitForReady();
    const type = opts.type ?? 2;
    const user: DiscordUser = { ...defaultUser, ...opts.user };
    const inDm = opts.guildId === null;
    const guildId = inDm ? null : (opts.guildId ?? defaultGuildId);
    if (guildId && !guilds.has(guildId)) throw new Error(`discord emulator: unknown guild ${guildId}`);
    const channelId = opts.channelId ?? (inDm ? dmChannelFor(user).id : guildId === defaultGuildId ? defaultChannelId : guilds.get(guildId!)!.channelIds[0]!);
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb246${id}${randomToken(60)}`;

    const resolvedAttachments: Record<string, DiscordAttachment> = {};
    for (const attachment of opts.attachments ?? []) resolvedAttachments[attachment.id] = attachment;

    let data: Json;
    let sourceMessage: StoredMessage | undefined;
    if (type === 2 || type === 4) {
      if (!opts.commandName) throw new Error('discord emulator: commandName is required for command interactions');
      const command = findCommand(opts.commandName, guildId);
      let options: RawCommandOption[];
      if (opts.subcommand) {
        const subDefinition = (command?.options as Json[] | undefined)?.find((o) => o.name === opts.subcommand);
        options = [{ name: opts.subcommand, type: 1, options: buildOptions(opts.options, subDefinition?.options, resolvedAttachments, opts.focused) }];
      } else {
        options = buildOptions(opts.options, command?.options, resolvedAttachments, opts.focused);
      }
      data = { id: command?.id ?? snowflake(), name: opts.commandName, type: 1, options };
      if (command?.guild_id) data.guild_id = command.guild_id;
      if (Object.keys(resolvedAttachments).length > 0) data.resolved = { attachments: resolvedAttachments };
    } else if (type === 3) {
      if (!opts.customId) throw new Error('discord emulator: customId is required for component interactions');
      data = { custom_id: opts.customId, component_type: opts.componentType ?? 2 };
      if (opts.values) data.values = opts.values;
    } else {
      if (!opts.customId) throw new Error('discord emulator: customId is required for modal submits');
      data = {
        custom_id: opts.customId,
        components: Object.entries(opts.fields ?? {}).map(([customId, value]) => ({
          type: 1,
          components: [{ type: 4, custom_id: customId, value }],
        })),
      };
    }

    let messagePayload: Json | undefined = opts.message;
    if (opts.messageId) {
      sourceMessage = messages.get(opts.messageId);
      if (!sourceMessage || sourceMessage.deleted) throw new Error(`discord emulator: unknown message ${opts.messageId}`);
      if (type === 3) {
        const component = findComponent(sourceMessage.components, opts.customId!);
        if (!component) throw new Error(`discord emulator: message ${opts.messageId} has no component "${opts.customId}"`);
        if (component.disabled) throw new Error(`discord emulator: component "${opts.customId}" is disabled; a user cannot press it`);
      }
      messagePayload = sourceMessage.raw();
    }
    if (type === 3 && !messagePayload) throw new Error('discord emulator: component interactions need messageId or message');

    const payload: Json = {
      id,
      application_id: applicationId,
      type,
      data,
      token,
      version: 1,
      channel_id: channelId,
      channel: channelObjectFor(channelId, user),
      app_permissions: ALL_PERMISSIONS,
      locale: opts.locale ?? 'en-US',
      entitlements: [],
      entitlement_sku_ids: [],
      authorizing_integration_owners: inDm ? { '1': user.id } : { '0': guildId },
      context: inDm ? 1 : 0,
      attachment_size_limit: uploadLimitBytes,
    };
    if (guildId) {
      payload.guild_id = guildId;
      payload.guild = { id: guildId, locale: 'en-US', features: [] };
      payload.guild_locale = 'en-US';
      payload.member = {
        user: { ...user },
        roles: opts.roles ?? [],
        permissions: opts.memberPermissions ?? ALL_PERMISSIONS,
        nick: null,
        avatar: null,
        banner: null,
        joined_at: new Date(Date.now() - 86400000).toISOString(),
        premium_since: null,
        deaf: false,
        mute: false,
        flags: 0,
        pending: false,
        communication_disabled_until: null,
        unusual_dm_activity_until: null,
      };
    } else {
      payload.user = { ...user };
    }
    if (messagePayload) payload.message = messagePayload;

    let state!: InteractionState;
    const handle = makeHandle(() => state);
    state = {
      id,
      token,
      type,
      payload,
      dispatchedAt: Date.now(),
      channelId,
      guildId,
      user,
      followUpIds: [],
      uploads: [],
      tokenExpired: false,
      handle,
      ...(sourceMessage ? { sourceMessageId: sourceMessage.id } : {}),
    };
    interactions.set(id, state);
    interactionsByToken.set(token, state);
    dispatch('INTERACTION_CREATE', payload);
    changed();
    return handle;
  }

  async function handleCallback(interactionId: string, token: string, body: Json, parts: UploadedPart[], withResponse: boolean): Promise<[number, unknown]> {
    const state = interactions.get(interactionId);
    if (!state || state.token !== token) throw err.unknownInteraction();
    if (state.ack) throw err.alreadyAcked();
    const afterMs = Date.now() - state.dispatchedAt;
    if (afterMs > ackDeadlineMs) throw err.unknownInteraction();
    const type = Number(body?.type);
    if (!CALLBACK_TYPES[type]) throw err.invalidForm('type', 'BASE_TYPE_CHOICES', `Value must be one of ${Object.keys(CALLBACK_TYPES).join(', ')}.`);
    if (!ALLOWED_CALLBACKS[state.type]?.includes(type)) {
      throw new HttpError(400, { message: 'Interaction callback type is not valid for this interaction type', code: 40043 });
    }
    if ((type === 6 || type === 7) && !state.sourceMessageId) {
      throw new HttpError(400, { message: 'Cannot update a message that the emulator does not know (pass messageId)', code: 50035 });
    }
    const data: Json | undefined = body.data ?? undefined;
    const flags = typeof data?.flags === 'number' ? data.flags : 0;
    let files: StoredFile[] = [];
    let resourceMessage: StoredMessage | undefined;

    if (type === 4 || type === 5) {
      const msg = createMessage({
        channelId: state.channelId,
        guildId: state.guildId,
        kind: 'interaction-response',
        interactionId: state.id,
        flags: (flags & FLAG_EPHEMERAL) | (type === 5 ? FLAG_LOADING : 0),
      });
      if (type === 4) {
        try {
          files = applyMessageBody(msg, data ?? {}, parts, true);
        } catch (e) {
          messages.delete(msg.id);
          messageOrder.splice(messageOrder.indexOf(msg.id), 1);
          throw e;
        }
      } else {
        msg.versions.push(snapshot(msg));
      }
      state.originalMessageId = msg.id;
      resourceMessage = msg;
    } else if (type === 6 || type === 7) {
      const source = messages.get(state.sourceMessageId!)!;
      if (type === 7) files = applyMessageBody(source, data ?? {}, parts, false);
      state.originalMessageId = source.id;
      resourceMessage = source;
    } else if (type === 8) {
      const choices: Json[] = data?.choices ?? [];
      if (choices.length > 25) throw err.invalidForm('data.choices', 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      state.autocompleteChoices = choices;
    } else if (type === 9) {
      if (!data?.custom_id || !data?.title) throw err.invalidForm('data.custom_id', 'BASE_TYPE_REQUIRED', 'This field is required');
      state.modal = data;
    }
    state.uploads.push(...files);
    state.ack = {
      type,
      typeName: CALLBACK_TYPES[type]!,
      data,
      ephemeral: (flags & FLAG_EPHEMERAL) !== 0,
      afterMs,
      files,
      withResponse,
    };
    log('ack', interactionId, CALLBACK_TYPES[type], `${afterMs} ms`);
    changed();
    if (!withResponse) return [204, undefined];
    return [
      200,
      {
        interaction: {
          id: state.id,
          type: state.type,
          activity_instance_id: null,
          response_message_id: resourceMessage?.id ?? null,
          response_message_loading: resourceMessage ? resourceMessage.loading : null,
          response_message_ephemeral: resourceMessage ? resourceMessage.ephemeral : null,
        },
        resource: { type, ...(resourceMessage ? { message: resourceMessage.raw() } : {}) },
      },
    ];
  }

  function interactionMessage(state: InteractionState, messageId: string): StoredMessage {
    const id = messageId === '@original' ? state.originalMessageId : messageId;
    if (!id) throw err.unknownMessage();
    if (id !== state.originalMessageId && !state.followUpIds.includes(id)) throw err.unknownMessage();
    const msg = messages.get(id);
    if (!msg || msg.deleted) throw err.unknownMessage();
    return msg;
  }

  // --- channels

  function channelOrThrow(channelId: string): ChannelState {
    const channel = channels.get(channelId);
    if (!channel) throw err.unknownChannel();
    return channel;
  }

  function apiChannel(channel: ChannelState): Json {
    if (channel.type === 1) {
      return { id: channel.id, type: 1, flags: 0, last_message_id: lastMessageId(channel.id), recipients: [{ ...channel.recipient! }] };
    }
    return {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guildId,
      name: channel.name,
      position: guilds.get(channel.guildId!)?.channelIds.indexOf(channel.id) ?? 0,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      rate_limit_per_user: 0,
      last_message_id: lastMessageId(channel.id),
      flags: 0,
    };
  }

  function lastMessageId(channelId: string): string | null {
    for (let i = messageOrder.length - 1; i >= 0; i--) {
      const msg = messages.get(messageOrder[i]!);
      if (msg && msg.channelId === channelId && !msg.deleted) return msg.id;
    }
    return null;
  }

  function apiGuild(guildId: string): Json {
    const guild = guilds.get(guildId)!;
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: application.owner.id,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [
        {
          id: guild.id,
          name: '@everyone',
          color: 0,
          colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
          hoist: false,
          icon: null,
          unicode_emoji: null,
          position: 0,
          permissions: '2248473465835073',
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: guild.channelIds[0] ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_members: 500000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
    };
  }

  function guildCreatePayload(guildId: string): Json {
    const guild = guilds.get(guildId)!;
    return {
      ...apiGuild(guildId),
      joined_at: guild.joinedAt,
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [
        { user: { ...botUser }, roles: [], joined_at: guild.joinedAt, deaf: false, mute: false, flags: 0, nick: null, avatar: null, premium_since: null, pending: false },
      ],
      channels: guild.channelIds.map((id) => {
        const { guild_id: _omit, ...rest } = apiChannel(channels.get(id)!);
        return rest;
      }),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  // --- commands

  function validateCommand(command: Json, index: number | null): void {
    const where = index === null ? '' : `${index}.`;
    const type = command.type ?? 1;
    const name = String(command.name ?? '');
    const valid = type === 1 ? /^[-_'\p{Ll}\p{Lo}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(name) : name.length >= 1 && name.length <= 32;
    if (!valid) throw err.invalidForm(`${where}name`, 'APPLICATION_COMMAND_INVALID_NAME', `Command name is invalid`);
    if (type === 1) {
      const description = String(command.description ?? '');
      if (description.length < 1 || description.length > 100) {
        throw err.invalidForm(`${where}description`, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
    }
    const opts: Json[] = command.options ?? [];
    if (opts.length > 25) throw err.invalidForm(`${where}options`, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    let seenOptional = false;
    opts.forEach((option, i) => {
      if (option.type === 1 || option.type === 2) return;
      if (!option.required) seenOptional = true;
      else if (seenOptional) {
        throw err.invalidForm(`${where}options.${i}.required`, 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
      }
    });
  }

  function storeCommand(scope: string, command: Json, existing: Json | undefined): Json {
    return {
      id: existing?.id ?? snowflake(),
      application_id: applicationId,
      version: snowflake(),
      default_member_permissions: command.default_member_permissions ?? null,
      type: command.type ?? 1,
      name: command.name,
      name_localizations: command.name_localizations ?? null,
      description: command.description ?? '',
      description_localizations: command.description_localizations ?? null,
      ...(scope === 'global'
        ? { dm_permission: command.dm_permission ?? true, integration_types: command.integration_types ?? [0], contexts: command.contexts ?? null }
        : { guild_id: scope }),
      options: command.options ?? [],
      nsfw: command.nsfw ?? false,
    };
  }

  function commandsRoute(scope: string, method: string, commandId: string | undefined, body: unknown): [number, unknown] {
    const list = commands.get(scope) ?? [];
    if (commandId === undefined) {
      if (method === 'GET') return [200, list];
      if (method === 'PUT') {
        if (!Array.isArray(body)) throw err.invalidForm('_', 'MODEL_TYPE_CONVERT', 'Expected an array');
        body.forEach((c: Json, i) => validateCommand(c, i));
        const next = body.map((c: Json) => storeCommand(scope, c, list.find((e) => e.name === c.name && (e.type ?? 1) === (c.type ?? 1))));
        commands.set(scope, next);
        changed();
        return [200, next];
      }
      if (method === 'POST') {
        const command = body as Json;
        validateCommand(command, null);
        const existing = list.find((e) => e.name === command.name && e.type === (command.type ?? 1));
        const stored = storeCommand(scope, command, existing);
        commands.set(scope, [...list.filter((e) => e !== existing), stored]);
        changed();
        return [existing ? 200 : 201, stored];
      }
      throw new HttpError(405, { message: '405: Method Not Allowed', code: 0 });
    }
    const existing = list.find((c) => c.id === commandId);
    if (!existing) throw err.unknownCommand();
    if (method === 'GET') return [200, existing];
    if (method === 'DELETE') {
      commands.set(scope, list.filter((c) => c !== existing));
      changed();
      return [204, undefined];
    }
    if (method === 'PATCH') {
      const updated = storeCommand(scope, { ...existing, ...(body as Json) }, existing);
      commands.set(scope, list.map((c) => (c === existing ? updated : c)));
      changed();
      return [200, updated];
    }
    throw new HttpError(405, { message: '405: Method Not Allowed', code: 0 });
  }

  // --- HTTP

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));

    // CDN: /attachments/..., /ephemeral-attachments/..., /media/attachments/...
    const cdnSegments = segments[0] === 'media' ? segments.slice(1) : segments;
    if ((cdnSegments[0] === 'attachments' || cdnSegments[0] === 'ephemeral-attachments') && cdnSegments.length === 4) {
      const file = cdn.get(cdnSegments[2]!);
      if (!file || (method !== 'GET' && method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('Not Found');
        return;
      }
      res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.length) });
      res.end(method === 'HEAD' ? undefined : file.bytes);
      return;
    }

    if (segments[0] !== 'api') throw err.notFound();
    let rest = segments.slice(1);
    if (rest[0] && /^v\d+$/.test(rest[0])) {
      if (rest[0] !== 'v10' && rest[0] !== 'v9') throw new HttpError(400, { message: 'Invalid API version', code: 50041 });
      rest = rest.slice(1);
    }
    const path = '/' + rest.join('/');
    const query = Object.fromEntries(url.searchParams);

    let parsed: ParsedBody = { kind: 'none', json: undefined, fields: {}, files: [] };
    let status = 500;
    const entry: RequestLogEntry = { at: Date.now(), method, path, rawPath: url.pathname, query, body: undefined, files: [], status };
    requestLog.push(entry);
    try {
      try {
        parsed = await parseBody(req, DISCORD_MULTIPART);
      } catch {
        throw new HttpError(400, { message: '400: Bad Request', code: 0 });
      }
      entry.body = parsed.json;
      entry.files = parsed.files.map((f) => ({ field: f.field, filename: f.filename, size: f.bytes.length, contentType: f.contentType }));

      const injection = injected.find((i) => (!i.method || i.method.toUpperCase() === method) && (typeof i.path === 'string' ? i.path === path : i.path.test(path)));
      if (injection) {
        injection.times = (injection.times ?? 1) - 1;
        if (injection.times <= 0) injected.splice(injected.indexOf(injection), 1);
        status = injection.status;
        sendJson(res, injection.status, injection.body, injection.headers);
        return;
      }

      const [code, body] = await route(req, method, rest, query, parsed);
      status = code;
      sendJson(res, code, body);
    } catch (e) {
      if (e instanceof HttpError) status = e.status;
      throw e;
    } finally {
      entry.status = status;
      log(method, path, status);
      changed();
    }
  }

  function requireAuth(req: IncomingMessage): void {
    if (req.headers.authorization !== `Bot ${botToken}`) throw err.unauthorized();
  }

  /** webhook-token routes need no Authorization, but a wrong one still fails */
  function optionalAuth(req: IncomingMessage): void {
    if (req.headers.authorization !== undefined) requireAuth(req);
  }

  async function route(req: IncomingMessage, method: string, seg: string[], query: Record<string, string>, parsed: ParsedBody): Promise<[number, unknown]> {
    const body = (parsed.json ?? {}) as Json;
    const [a, b, c, d, e, f] = seg;
    const n = seg.length;

    if (a === 'gateway' && n === 1 && method === 'GET') return [200, { url: gatewayUrl }];
    if (a === 'gateway' && b === 'bot' && n === 2 && method === 'GET') {
      requireAuth(req);
      return [200, { url: gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14400000, max_concurrency: 1 } }];
    }
    if (a === 'users' && b === '@me' && n === 2 && method === 'GET') {
      requireAuth(req);
      return [200, { ...botUser, flags: 0, mfa_enabled: true, locale: 'en-US', verified: true, email: null, banner: null, accent_color: null }];
    }
    if (a === 'users' && b === '@me' && c === 'channels' && n === 3 && method === 'POST') {
      requireAuth(req);
      const recipientId = String(body.recipient_id ?? '');
      const known = [...interactions.values()].find((s) => s.user.id === recipientId)?.user;
      const user: DiscordUser = known ?? (recipientId === defaultUser.id ? defaultUser : { ...defaultUser, id: recipientId, username: `user${recipientId.slice(-4)}`, global_name: null });
      return [200, apiChannel(dmChannelFor(user))];
    }
    if (a === 'users' && n === 2 && method === 'GET') {
      requireAuth(req);
      const known = b === defaultUser.id ? defaultUser : [...interactions.values()].find((s) => s.user.id === b)?.user;
      if (!known) throw new HttpError(404, { message: 'Unknown User', code: 10013 });
      return [200, known];
    }
    if (a === 'applications' && b === '@me' && n === 2 && method === 'GET') {
      requireAuth(req);
      return [200, application];
    }
    if (a === 'applications' && b !== undefined && c === 'commands' && (n === 3 || n === 4)) {
      requireAuth(req);
      if (b !== applicationId) throw err.unknownApplication();
      return commandsRoute('global', method, d, parsed.json);
    }
    if (a === 'applications' && b !== undefined && c === 'guilds' && d !== undefined && e === 'commands' && (n === 5 || n === 6)) {
      requireAuth(req);
      if (b !== applicationId) throw err.unknownApplication();
      if (!guilds.has(d)) throw new HttpError(403, { message: 'Missing Access', code: 50001 });
      return commandsRoute(d, method, f, parsed.json);
    }
    if (a === 'interactions' && b !== undefined && c !== undefined && d === 'callback' && n === 4 && method === 'POST') {
      optionalAuth(req);
      return handleCallback(b, c, body, parsed.files, query.with_response === 'true');
    }
    if (a === 'webhooks' && b !== undefined && c !== undefined && n === 3 && method === 'POST') {
      optionalAuth(req);
      const state = interactionFromToken(b, c);
      if (!state.ack || state.ack.type === 8 || state.ack.type === 9) throw err.unknownWebhook();
      const original = state.originalMessageId ? messages.get(state.originalMessageId) : undefined;
      let msg: StoredMessage;
      let files: StoredFile[];
      if (state.ack.type === 5 && original && original.loading && !original.deleted) {
        // Discord: the first follow-up after a deferred reply replaces the "thinking..." message
        // (keeping the ephemerality chosen at defer time)
        files = applyMessageBody(original, { ...body, flags: undefined }, parsed.files, false);
        original.flags &= ~FLAG_LOADING;
        original.versions[original.versions.length - 1]!.flags = original.flags;
        msg = original;
      } else {
        msg = createMessage({
          channelId: state.channelId,
          guildId: state.guildId,
          kind: 'follow-up',
          interactionId: state.id,
          flags: typeof body.flags === 'number' ? body.flags & FLAG_EPHEMERAL : 0,
        });
        try {
          files = applyMessageBody(msg, { ...body, flags: undefined }, parsed.files, true);
        } catch (error) {
          messages.delete(msg.id);
          messageOrder.splice(messageOrder.indexOf(msg.id), 1);
          throw error;
        }
        state.followUpIds.push(msg.id);
      }
      state.uploads.push(...files);
      return query.wait === 'true' ? [200, msg.raw()] : [204, undefined];
    }
    if (a === 'webhooks' && b !== undefined && c !== undefined && d === 'messages' && e !== undefined && n === 5) {
      optionalAuth(req);
      const state = interactionFromToken(b, c);
      const msg = interactionMessage(state, e);
      if (method === 'GET') return [200, msg.raw()];
      if (method === 'PATCH') {
        const files = applyMessageBody(msg, body, parsed.files, false);
        if (e === '@original' || msg.id === state.originalMessageId) {
          if (msg.loading) {
            msg.flags &= ~FLAG_LOADING;
            msg.versions[msg.versions.length - 1]!.flags = msg.flags;
          }
        }
        state.uploads.push(...files);
        return [200, msg.raw()];
      }
      if (method === 'DELETE') {
        msg.deleted = true;
        return [204, undefined];
      }
    }
    if (a === 'channels' && b !== undefined) {
      requireAuth(req);
      const channel = channelOrThrow(b);
      if (n === 2 && method === 'GET') return [200, apiChannel(channel)];
      if (c === 'typing' && n === 3 && method === 'POST') {
        typingCounts.set(b, (typingCounts.get(b) ?? 0) + 1);
        return [204, undefined];
      }
      if (c === 'messages' && n === 3 && method === 'GET') {
        const limit = Math.min(Number(query.limit ?? 50), 100);
        const list = listMessages(b).reverse().slice(0, limit);
        return [200, list.map((m) => m.raw())];
      }
      if (c === 'messages' && n === 3 && method === 'POST') {
        let reference: Json | null = null;
        if (body.message_reference?.message_id) {
          const target = messages.get(String(body.message_reference.message_id));
          if (!target || target.deleted) {
            if (body.message_reference.fail_if_not_exists !== false) {
              throw err.invalidForm('message_reference', 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
            }
          } else {
            reference = { message_id: target.id, channel_id: target.channelId, ...(target.guildId ? { guild_id: target.guildId } : {}) };
          }
        }
        const msg = createMessage({ channelId: b, guildId: channel.guildId, kind: 'channel', messageReference: reference });
        try {
          applyMessageBody(msg, { ...body, flags: typeof body.flags === 'number' ? body.flags & ~FLAG_EPHEMERAL : undefined }, parsed.files, true);
        } catch (error) {
          messages.delete(msg.id);
          messageOrder.splice(messageOrder.indexOf(msg.id), 1);
          throw error;
        }
        const api = msg.raw();
        if (channel.type === 1 || channel.guildId) dispatchMessageEvent('MESSAGE_CREATE', msg);
        return [200, api];
      }
      if (c === 'messages' && d !== undefined && n === 4) {
        const msg = messages.get(d);
        if (!msg || msg.deleted || msg.channelId !== b) throw err.unknownMessage();
        if (method === 'GET') return [200, msg.raw()];
        if (method === 'PATCH') {
          if (msg.author.id !== botUser.id) throw err.cannotEditOthers();
          applyMessageBody(msg, body, parsed.files, false);
          dispatchMessageEvent('MESSAGE_UPDATE', msg);
          return [200, msg.raw()];
        }
        if (method === 'DELETE') {
          msg.deleted = true;
          return [204, undefined];
        }
      }
    }
    if (a === 'guilds' && b !== undefined) {
      requireAuth(req);
      if (!guilds.has(b)) throw err.unknownGuild();
      if (n === 2 && method === 'GET') return [200, apiGuild(b)];
      if (c === 'channels' && n === 3 && method === 'GET') return [200, guilds.get(b)!.channelIds.map((id) => apiChannel(channels.get(id)!))];
    }
    throw err.notFound();
  }

  function listMessages(channelId: string, includeDeleted = false): StoredMessage[] {
    return messageOrder
      .map((id) => messages.get(id)!)
      .filter((m) => m && m.channelId === channelId && (includeDeleted || !m.deleted));
  }

  // --- gateway

  function sendRaw(connection: Connection, payload: Json): void {
    const text = JSON.stringify(payload);
    if (!connection.deflate) {
      if (connection.ws.readyState === WebSocket.OPEN) connection.ws.send(text);
      return;
    }
    // zlib-stream: one shared deflate context, every payload ends with a Z_SYNC_FLUSH marker
    const deflate = connection.deflate;
    connection.sendChain = connection.sendChain.then(
      () =>
        new Promise<void>((resolve) => {
          const chunks: Buffer[] = [];
          const onData = (chunk: Buffer) => chunks.push(chunk);
          deflate.on('data', onData);
          deflate.write(text);
          deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            deflate.off('data', onData);
            if (connection.ws.readyState === WebSocket.OPEN) connection.ws.send(Buffer.concat(chunks));
            resolve();
          });
        }),
    );
  }

  function sendDispatch(session: Session, t: string, d: Json): void {
    session.seq += 1;
    const event = { s: session.seq, t, d };
    session.events.push(event);
    if (session.events.length > 1000) session.events.shift();
    if (session.connection) sendRaw(session.connection, { op: 0, ...event });
  }

  function readySessions(): Session[] {
    return [...sessions.values()].filter((s) => s.connection);
  }

  function dispatch(t: string, d: Json): void {
    for (const session of readySessions()) sendDispatch(session, t, d);
    log('dispatch', t);
  }

  function dispatchMessageEvent(t: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', msg: StoredMessage): void {
    for (const session of readySessions()) {
      const isDm = !msg.guildId;
      const needed = isDm ? INTENT_DIRECT_MESSAGES : INTENT_GUILD_MESSAGES;
      if ((session.intents & needed) === 0) continue;
      const api = msg.raw();
      const mentioned = msg.content.includes(`<@${botUser.id}>`);
      if ((session.intents & INTENT_MESSAGE_CONTENT) === 0 && !isDm && !mentioned && msg.author.id !== botUser.id) {
        // Discord blanks these without the privileged MESSAGE_CONTENT intent
        api.content = '';
        api.embeds = [];
        api.attachments = [];
        api.components = [];
      }
      if (msg.guildId && msg.author.id !== botUser.id) {
        api.member = { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 };
      }
      sendDispatch(session, t, api);
    }
  }

  function onGatewayConnection(ws: WebSocket, query: Record<string, string>): void {
    stats.connections += 1;
    stats.connectQueries.push(query);
    const connection: Connection = {
      ws,
      session: null,
      query,
      deflate: query.compress === 'zlib-stream' ? zlib.createDeflate({ chunkSize: 65535 }) : null,
      sendChain: Promise.resolve(),
    };
    connections.add(connection);
    if (query.encoding && query.encoding !== 'json') {
      ws.close(4002, 'Error while decoding payload.');
      return;
    }
    sendRaw(connection, { op: 10, d: { heartbeat_interval: heartbeatIntervalMs, _trace: ['["discord-emulator",{"micros":0}]'] }, s: null, t: null });

    ws.on('message', (raw: RawData, isBinary: boolean) => {
      let payload: Json;
      try {
        const text = isBinary ? zlib.inflateSync(raw as Buffer).toString('utf8') : raw.toString();
        payload = JSON.parse(text);
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      onGatewayPayload(connection, payload);
    });
    ws.on('close', () => {
      connections.delete(connection);
      connection.deflate?.close();
      if (connection.session && connection.session.connection === connection) connection.session.connection = null;
      changed();
    });
    ws.on('error', () => {});
  }

  function onGatewayPayload(connection: Connection, payload: Json): void {
    const { ws } = connection;
    log('gateway op', payload.op);
    switch (payload.op) {
      case 1: {
        stats.heartbeats += 1;
        sendRaw(connection, { op: 11, d: null, s: null, t: null });
        changed();
        return;
      }
      case 2: {
        const d: Json = payload.d ?? {};
        if (connection.session) {
          ws.close(4005, 'Already authenticated.');
          return;
        }
        const token = String(d.token ?? '').replace(/^Bot\s+/i, '');
        if (token !== botToken) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        if (typeof d.intents !== 'number') {
          ws.close(4013, 'Invalid intent(s).');
          return;
        }
        stats.identifies.push(structuredClone(d));
        const session: Session = { id: randomBytes(16).toString('hex'), seq: 0, intents: d.intents, identify: d, events: [], connection };
        sessions.set(session.id, session);
        connection.session = session;
        const wantsGuilds = (d.intents & INTENT_GUILDS) !== 0;
        const guildIds = wantsGuilds ? [...guilds.keys()] : [];
        sendDispatch(session, 'READY', {
          v: 10,
          user: { ...botUser, flags: 0, mfa_enabled: true, verified: true, email: null },
          user_settings: {},
          guilds: guildIds.map((id) => ({ id, unavailable: true })),
          guild_join_requests: [],
          relationships: [],
          private_channels: [],
          presences: [],
          geo_ordered_rtc_regions: [],
          session_type: 'normal',
          session_id: session.id,
          resume_gateway_url: gatewayUrl,
          shard: d.shard ?? [0, 1],
          application: { id: applicationId, flags: application.flags },
          auth: {},
          _trace: ['["discord-emulator",{"micros":0}]'],
        });
        for (const id of guildIds) sendDispatch(session, 'GUILD_CREATE', guildCreatePayload(id));
        changed();
        return;
      }
      case 6: {
        const d: Json = payload.d ?? {};
        const session = sessions.get(String(d.session_id));
        const token = String(d.token ?? '').replace(/^Bot\s+/i, '');
        if (token !== botToken) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        if (!session) {
          sendRaw(connection, { op: 9, d: false, s: null, t: null });
          return;
        }
        stats.resumes += 1;
        if (session.connection && session.connection !== connection) session.connection.ws.close(4000, 'Session resumed elsewhere');
        session.connection = connection;
        connection.session = session;
        for (const event of session.events) {
          if (event.s > Number(d.seq ?? 0)) sendRaw(connection, { op: 0, ...event });
        }
        sendDispatch(session, 'RESUMED', { _trace: [] });
        changed();
        return;
      }
      case 3:
      case 4:
      case 8:
      case 31:
        return;
      default:
        ws.close(4001, 'Unknown opcode.');
    }
  }

  function waitForReady(timeoutMs = 5000): Promise<Json> {
    return waitFor(() => readySessions()[0]?.identify, timeoutMs);
  }

  async function sendUserMessage(opts: SendUserMessageOptions): Promise<StoredMessage> {
    await waitForReady();
    const user: DiscordUser = { ...defaultUser, ...opts.user };
    const channelId = opts.dm ? dmChannelFor(user).id : (opts.channelId ?? defaultChannelId);
    const channel = channelOrThrow(channelId);
    const msg = createMessage({ channelId, guildId: channel.guildId, kind: 'user', author: user });
    msg.content = opts.content;
    msg.attachments = opts.attachments ?? [];
    msg.versions.push(snapshot(msg));
    dispatchMessageEvent('MESSAGE_CREATE', msg);
    changed();
    return msg;
  }

  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    rejectWaiters(new Error('discord emulator stopped'));
    for (const connection of connections) {
      connection.deflate?.close();
      connection.ws.terminate();
    }
    connections.clear();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  const emulator: DiscordEmulator = {
    port,
    restBase: `${origin}/api`,
    gatewayUrl,
    cdnBase: origin,
    applicationId,
    botToken,
    botUser,
    guildId: defaultGuildId,
    channelId: defaultChannelId,
    defaultUser,
    stop,
    dispatchInteraction,
    sendUserMessage,
    dispatch: (event, data) => {
      dispatch(event, data);
      changed();
    },
    registerAttachment(file) {
      const stored = storeFile(Buffer.from(file.bytes), file.filename, file.contentType ?? 'application/octet-stream', file.channelId ?? defaultChannelId, true);
      return attachmentOf(stored, {
        ephemeral: true,
        ...(file.width !== undefined ? { width: file.width } : {}),
        ...(file.height !== undefined ? { height: file.height } : {}),
        ...(file.durationSecs !== undefined ? { duration_secs: file.durationSecs } : {}),
      });
    },
    messages: (channelId = defaultChannelId, opts = {}) => listMessages(channelId, opts.includeDeleted),
    message: (id) => messages.get(id),
    interaction: (id) => interactions.get(id)?.handle,
    interactions: () => [...interactions.values()].map((s) => s.handle),
    commands: (guildId) => structuredClone(commands.get(guildId ?? 'global') ?? []),
    fileBytes(idOrUrl) {
      const direct = cdn.get(idOrUrl);
      if (direct) return direct.bytes;
      try {
        const parts = new URL(idOrUrl).pathname.split('/').filter(Boolean);
        const id = parts[0] === 'media' ? parts[2] : parts[1];
        return id ? cdn.get(id)?.bytes : undefined;
      } catch {
        return undefined;
      }
    },
    requests: () => [...requestLog],
    typing: (channelId) => typingCounts.get(channelId) ?? 0,
    gateway: () => ({ ...stats, identifies: [...stats.identifies], connectQueries: [...stats.connectQueries] }),
    waitFor,
    waitForReady,
    injectError(error) {
      injected.push({ ...error, times: error.times ?? 1 });
    },
    disconnectGateway(code = 4000) {
      for (const connection of connections) connection.ws.close(code, 'Emulator requested reconnect');
    },
  };
  return emulator;
}
