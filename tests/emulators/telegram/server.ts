// A local Telegram Bot API emulator, in memory, on 127.0.0.1:<free port>. The real grammY client
// connects to it (`new Bot(token, { client: { apiRoot } })`); tests play users with sendText()/
// sendVoice()/pressButton()... and read back what the bot did with botMessages().
// Follows the public Bot API's semantics where a bot depends on them: getUpdates offset/timeout
// long polling, 20 MB getFile limit ("file is too big"), 50 MB uploads, parse_mode validation,
// "message is not modified", edits without reply_markup drop the keyboard, error shapes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseBody, sendJson, type UploadedPart } from '../shared/http.ts';
import { createWaiters } from '../shared/wait.ts';
import { quoteUnquotedFilenames } from './http.ts';
import { EntityParseError, parseEntities, type MessageEntity } from './entities.ts';
import { imageSize, mp4Info } from './media-info.ts';

export type Json = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Public types

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
}

/** a chat id (positive: private chat, negative: group; < -1e12: supergroup) or a chat object */
export type ChatRef = number | TgChat;
/** a user id or user fields (merged over the default user) */
export type UserRef = number | Partial<TgUser>;

export type FileKind = 'voice' | 'audio' | 'document' | 'photo' | 'video' | 'animation' | 'video_note' | 'sticker';

export interface TgStoredFile {
  fileId: string;
  fileUniqueId: string;
  filePath: string;
  kind: FileKind;
  bytes: Buffer;
  /** the size the API reports (defaults to bytes.length; tests may declare more) */
  size: number;
  fileName?: string;
  mimeType?: string;
}

export interface InlineButton {
  text: string;
  callback_data?: string;
  url?: string;
  [key: string]: unknown;
}

export interface MessageVersion {
  at: number;
  text?: string;
  caption?: string;
  replyMarkup?: Json;
  fileId?: string;
}

export interface BotMessage {
  chatId: number;
  messageId: number;
  /** the method that created it: sendMessage, sendVideo, ... */
  method: string;
  /** the message as the Bot API returned it last (after edits) */
  readonly message: Json;
  readonly text: string | undefined;
  readonly caption: string | undefined;
  readonly replyMarkup: Json | undefined;
  /** inline keyboard buttons, row by row, flattened */
  readonly buttons: InlineButton[];
  /** the uploaded/sent file of a media message, with its bytes */
  readonly file: TgStoredFile | undefined;
  /** the parameters of the creating call (after JSON/urlencoded/multipart normalisation) */
  params: Json;
  supportsStreaming: boolean;
  history: MessageVersion[];
  readonly deleted: boolean;
  sentAt: number;
  readonly editedAt: number | null;
}

export interface CallbackAnswer {
  callbackQueryId: string;
  text?: string;
  showAlert: boolean;
  url?: string;
  cacheTime?: number;
  at: number;
}

export interface PressResult {
  update: Json;
  callbackQueryId: string;
  answer(timeoutMs?: number): Promise<CallbackAnswer>;
}

export interface ApiCall {
  at: number;
  method: string;
  params: Json;
  files: Array<{ field: string; filename: string; size: number }>;
  ok: boolean;
  errorCode?: number;
  description?: string;
}

export interface InjectedTelegramError {
  /** case-insensitive method name */
  method: string;
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
  times?: number;
}

export interface TelegramEmulatorOptions {
  token?: string;
  botId?: number;
  botUsername?: string;
  botFirstName?: string;
  /** public Bot API: 20 MB; getFile above it answers 400 "Bad Request: file is too big" */
  getFileLimitBytes?: number;
  /** public Bot API: 50 MB for bot uploads; above it 413 "Request Entity Too Large" */
  uploadLimitBytes?: number;
  log?: boolean;
}

export interface UserMediaOptions {
  caption?: string;
  /** declare a larger size than the bytes (e.g. to provoke "file is too big" without allocating it) */
  fileSize?: number;
  replyTo?: number;
}

export interface TelegramEmulator {
  readonly port: number;
  /** give this to grammY: new Bot(token, { client: { apiRoot } }) */
  readonly apiRoot: string;
  readonly token: string;
  readonly botUser: TgUser;
  readonly defaultUser: TgUser;
  stop(): Promise<void>;

  sendText(chat: ChatRef | undefined, user: UserRef | undefined, text: string, options?: { replyTo?: number; entities?: MessageEntity[] }): Json;
  /** "/command args", with a bot_command entity; `mention` adds @botusername as group clients do */
  sendCommand(chat: ChatRef | undefined, user: UserRef | undefined, command: string, args?: string, options?: { mention?: boolean }): Json;
  sendVoice(chat: ChatRef | undefined, user: UserRef | undefined, bytes: Uint8Array, options?: UserMediaOptions & { duration?: number; mime_type?: string }): Json;
  sendAudio(
    chat: ChatRef | undefined,
    user: UserRef | undefined,
    bytes: Uint8Array,
    options?: UserMediaOptions & { duration?: number; mime_type?: string; file_name?: string; title?: string; performer?: string },
  ): Json;
  sendDocument(chat: ChatRef | undefined, user: UserRef | undefined, bytes: Uint8Array, options?: UserMediaOptions & { file_name?: string; mime_type?: string }): Json;
  sendPhoto(chat: ChatRef | undefined, user: UserRef | undefined, bytes: Uint8Array, options?: UserMediaOptions & { width?: number; height?: number }): Json;
  /** the user presses an inline button; throws if the message has no such button */
  pressButton(message: BotMessage | Json | { chatId: number; messageId: number }, callbackData: string, user?: UserRef): PressResult;
  /** queue any raw update (update_id is assigned) */
  pushUpdate(update: Json): Json;
  registerFile(bytes: Uint8Array, options?: { kind?: FileKind; fileName?: string; mimeType?: string; fileSize?: number }): TgStoredFile;

  botMessages(chatId: number, options?: { includeDeleted?: boolean }): BotMessage[];
  botMessage(chatId: number, messageId: number): BotMessage | undefined;
  /** every message of the chat (user and bot), as Message objects, oldest first */
  chatLog(chatId: number): Json[];
  callbackAnswers(): CallbackAnswer[];
  chatActions(chatId: number): string[];
  myCommands(options?: { scope?: Json; language_code?: string }): Json[];
  calls(method?: string): ApiCall[];
  fileBytes(fileId: string): Buffer | undefined;
  pendingUpdates(): number;
  /** the user blocked the bot: sends to that chat answer 403 */
  blockBot(chatId: number, blocked?: boolean): void;
  injectError(error: InjectedTelegramError): void;
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
}

// ---------------------------------------------------------------------------------------------
// Errors

class TgError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: Json,
  ) {
    super(description);
  }
}

const bad = (description: string) => new TgError(400, `Bad Request: ${description}`);
const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);

const MEDIA_METHODS: Record<string, { param: string; kind: FileKind; ext: string; mime: string }> = {
  sendvideo: { param: 'video', kind: 'video', ext: 'mp4', mime: 'video/mp4' },
  senddocument: { param: 'document', kind: 'document', ext: 'bin', mime: 'application/octet-stream' },
  sendaudio: { param: 'audio', kind: 'audio', ext: 'mp3', mime: 'audio/mpeg' },
  sendvoice: { param: 'voice', kind: 'voice', ext: 'oga', mime: 'audio/ogg' },
  sendphoto: { param: 'photo', kind: 'photo', ext: 'jpg', mime: 'image/jpeg' },
  sendanimation: { param: 'animation', kind: 'animation', ext: 'mp4', mime: 'video/mp4' },
};

const FILE_DIRS: Record<FileKind, string> = {
  voice: 'voice',
  audio: 'music',
  document: 'documents',
  photo: 'photos',
  video: 'videos',
  animation: 'animations',
  video_note: 'video_notes',
  sticker: 'stickers',
};

const FILE_ID_PREFIX: Record<FileKind, string> = {
  voice: 'AwACAgIAAxkBAA',
  audio: 'CQACAgIAAxkBAA',
  document: 'BQACAgIAAxkBAA',
  photo: 'AgACAgIAAxkBAA',
  video: 'BAACAgIAAxkBAA',
  animation: 'CgACAgIAAxkBAA',
  video_note: 'DQACAgIAAxkBAA',
  sticker: 'CAACAgIAAxkBAA',
};

const MIME_BY_EXT: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/x-wav',
  flac: 'audio/flac',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  json: 'application/json',
  zip: 'application/zip',
};

function extOf(fileName: string | undefined): string | undefined {
  const ext = fileName ? path.extname(fileName).slice(1).toLowerCase() : '';
  return ext || undefined;
}

// ---------------------------------------------------------------------------------------------
// Parameters: the Bot API accepts query strings, urlencoded, JSON and multipart; all but JSON
// carry strings, so every accessor converts like the real server does.

class Params {
  constructor(
    readonly raw: Json,
    readonly files: Map<string, UploadedPart>,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  str(key: string): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }

  int(key: string): number | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) throw bad(`invalid ${key} specified`);
    return Math.trunc(n);
  }

  bool(key: string): boolean {
    const value = this.raw[key];
    return value === true || value === 'true' || value === '1' || value === 1;
  }

  json<T = Json>(key: string, onError: string): T | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') return value as T;
    try {
      return JSON.parse(value) as T;
    } catch {
      throw bad(onError);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// State

interface ChatMessage {
  message: Json;
  fromBot: boolean;
  deleted: boolean;
  method: string;
  params: Json;
  file: TgStoredFile | undefined;
  supportsStreaming: boolean;
  history: MessageVersion[];
  sentAt: number;
  editedAt: number | null;
  view?: BotMessage;
}

interface ChatState {
  chat: TgChat;
  nextMessageId: number;
  messages: Map<number, ChatMessage>;
  order: number[];
  blocked: boolean;
  actions: string[];
}

interface Poller {
  wake(): void;
  conflict(): void;
}

// ---------------------------------------------------------------------------------------------

export async function startTelegramEmulator(options: TelegramEmulatorOptions = {}): Promise<TelegramEmulator> {
  const botId = options.botId ?? 7000000000 + Math.floor(Math.random() * 99999999);
  const token = options.token ?? `${botId}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`;
  const getFileLimit = options.getFileLimitBytes ?? 20 * 1024 * 1024;
  const uploadLimit = options.uploadLimitBytes ?? 50 * 1024 * 1024;
  const log = options.log ? (...args: unknown[]) => console.log('[telegram-emu]', ...args) : () => {};

  const botUser: TgUser = {
    id: botId,
    is_bot: true,
    first_name: options.botFirstName ?? 'MySpinBot',
    username: options.botUsername ?? 'myspinbot_test_bot',
  };
  const defaultUser: TgUser = { id: 100001, is_bot: false, first_name: 'Alice', last_name: 'Tester', username: 'alice', language_code: 'en' };

  const users = new Map<number, TgUser>([[defaultUser.id, defaultUser]]);
  const chats = new Map<number, ChatState>();
  const files = new Map<string, TgStoredFile>();
  const filesByPath = new Map<string, TgStoredFile>();
  let fileCounter = 0;
  let pending: Json[] = [];
  let nextUpdateId = 600000000 + Math.floor(Math.random() * 1000000);
  let allowedUpdates: string[] = [];
  let webhookUrl = '';
  let poller: Poller | null = null;
  const callbackQueries = new Map<string, { answered: boolean; answer?: CallbackAnswer }>();
  const callbackAnswers: CallbackAnswer[] = [];
  const commandSets = new Map<string, Json[]>();
  const apiCalls: ApiCall[] = [];
  const injected: InjectedTelegramError[] = [];
  const botSettings = new Map<string, unknown>();

  // --- waitFor
  const { changed, waitFor, rejectAll: rejectWaiters } = createWaiters('telegram emulator');

  // --- files

  function registerFile(bytes: Buffer, kind: FileKind, fileName?: string, mimeType?: string, declaredSize?: number): TgStoredFile {
    fileCounter += 1;
    const ext = extOf(fileName) ?? (mimeType ? Object.entries(MIME_BY_EXT).find(([, m]) => m === mimeType)?.[0] : undefined) ?? defaultExt(kind);
    const filePath = `${FILE_DIRS[kind]}/file_${fileCounter}.${ext}`;
    const file: TgStoredFile = {
      fileId: `${FILE_ID_PREFIX[kind]}${randomBytes(36).toString('base64url')}`,
      fileUniqueId: `AgAD${randomBytes(9).toString('base64url')}`,
      filePath,
      kind,
      bytes,
      size: declaredSize ?? bytes.length,
      ...(fileName !== undefined ? { fileName } : {}),
      ...(mimeType !== undefined ? { mimeType } : {}),
    };
    files.set(file.fileId, file);
    filesByPath.set(filePath, file);
    return file;
  }

  function defaultExt(kind: FileKind): string {
    return { voice: 'oga', audio: 'mp3', document: 'bin', photo: 'jpg', video: 'mp4', animation: 'mp4', video_note: 'mp4', sticker: 'webp' }[kind];
  }

  function photoSizes(file: TgStoredFile, width: number, height: number): Json[] {
    const sizes: Json[] = [];
    const longest = Math.max(width, height);
    for (const target of [90, 320, 800]) {
      if (longest > target) {
        const scale = target / longest;
        const thumb = registerFile(file.bytes, 'photo', undefined, file.mimeType);
        sizes.push({ file_id: thumb.fileId, file_unique_id: thumb.fileUniqueId, file_size: thumb.size, width: Math.round(width * scale), height: Math.round(height * scale) });
      }
    }
    sizes.push({ file_id: file.fileId, file_unique_id: file.fileUniqueId, file_size: file.size, width, height });
    return sizes;
  }

  // --- chats, users, updates

  function resolveUser(ref: UserRef | undefined): TgUser {
    if (ref === undefined) return defaultUser;
    if (typeof ref === 'number') {
      const known = users.get(ref);
      if (known) return known;
      const user: TgUser = { id: ref, is_bot: false, first_name: `User${ref}`, language_code: 'en' };
      users.set(ref, user);
      return user;
    }
    const base = ref.id !== undefined ? users.get(ref.id) : defaultUser;
    const user: TgUser = { ...(base ?? { is_bot: false, first_name: `User${ref.id}` }), ...ref } as TgUser;
    users.set(user.id, user);
    return user;
  }

  function resolveChat(ref: ChatRef | undefined, user: TgUser): ChatState {
    const id = ref === undefined ? user.id : typeof ref === 'number' ? ref : ref.id;
    let state = chats.get(id);
    if (!state) {
      let chat: TgChat;
      if (typeof ref === 'object') chat = { ...ref };
      else if (id > 0) {
        const owner = id === user.id ? user : (users.get(id) ?? user);
        chat = { id, type: 'private', first_name: owner.first_name, ...(owner.last_name ? { last_name: owner.last_name } : {}), ...(owner.username ? { username: owner.username } : {}) };
      } else {
        chat = { id, type: id < -1000000000000 ? 'supergroup' : 'group', title: 'Test Group' };
      }
      state = { chat, nextMessageId: 1, messages: new Map(), order: [], blocked: false, actions: [] };
      chats.set(id, state);
    }
    return state;
  }

  function pushUpdate(update: Json): Json {
    const full = { update_id: nextUpdateId++, ...update };
    pending.push(full);
    log('update', full.update_id, Object.keys(update).join(','));
    poller?.wake();
    changed();
    return full;
  }

  function addMessage(state: ChatState, init: Omit<ChatMessage, 'message' | 'history' | 'sentAt' | 'editedAt' | 'deleted'>, fields: Json, from: TgUser): ChatMessage {
    const messageId = state.nextMessageId++;
    const message: Json = { message_id: messageId, from: { ...from }, chat: { ...state.chat }, date: Math.floor(Date.now() / 1000), ...fields };
    const entry: ChatMessage = { ...init, message, history: [], sentAt: Date.now(), editedAt: null, deleted: false };
    entry.history.push(versionOf(entry));
    state.messages.set(messageId, entry);
    state.order.push(messageId);
    return entry;
  }

  function versionOf(entry: ChatMessage): MessageVersion {
    const m = entry.message;
    return {
      at: Date.now(),
      ...(m.text !== undefined ? { text: m.text } : {}),
      ...(m.caption !== undefined ? { caption: m.caption } : {}),
      ...(m.reply_markup !== undefined ? { replyMarkup: structuredClone(m.reply_markup) } : {}),
      ...(entry.file ? { fileId: entry.file.fileId } : {}),
    };
  }

  function replyFields(state: ChatState, replyTo: number | undefined): Json {
    if (replyTo === undefined) return {};
    const target = state.messages.get(replyTo);
    if (!target || target.deleted) return {};
    const { reply_to_message: _nested, ...rest } = target.message;
    return { reply_to_message: rest };
  }

  function userMessage(chatRef: ChatRef | undefined, userRef: UserRef | undefined, fields: Json, replyTo?: number): Json {
    const user = resolveUser(userRef);
    const state = resolveChat(chatRef, user);
    const entry = addMessage(state, { fromBot: false, method: 'user', params: {}, file: undefined, supportsStreaming: false }, { ...fields, ...replyFields(state, replyTo) }, user);
    return pushUpdate({ message: entry.message });
  }

  function botMessageView(state: ChatState, entry: ChatMessage): BotMessage {
    if (entry.view) return entry.view;
    const view: BotMessage = {
      chatId: state.chat.id,
      messageId: entry.message.message_id,
      method: entry.method,
      get message() {
        return entry.message;
      },
      get text() {
        return entry.message.text;
      },
      get caption() {
        return entry.message.caption;
      },
      get replyMarkup() {
        return entry.message.reply_markup;
      },
      get buttons() {
        const keyboard: InlineButton[][] = entry.message.reply_markup?.inline_keyboard ?? [];
        return keyboard.flat();
      },
      get file() {
        return entry.file;
      },
      params: entry.params,
      supportsStreaming: entry.supportsStreaming,
      history: entry.history,
      get deleted() {
        return entry.deleted;
      },
      sentAt: entry.sentAt,
      get editedAt() {
        return entry.editedAt;
      },
    };
    entry.view = view;
    return view;
  }

  // --- API helpers

  function chatFor(p: Params): ChatState {
    const raw = p.str('chat_id');
    if (raw === undefined || raw === '') throw bad('chat_id is empty');
    const id = Number(raw);
    const state = Number.isFinite(id) ? chats.get(id) : [...chats.values()].find((c) => `@${c.chat.username}` === raw);
    if (!state) throw bad('chat not found');
    if (state.blocked) throw new TgError(403, 'Forbidden: bot was blocked by the user');
    return state;
  }

  function validateMarkup(markup: Json | undefined): void {
    if (!markup) return;
    if (markup.inline_keyboard !== undefined) {
      if (!Array.isArray(markup.inline_keyboard) || !markup.inline_keyboard.every((row: unknown) => Array.isArray(row))) {
        throw bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
      }
      for (const button of (markup.inline_keyboard as Json[][]).flat()) {
        if (typeof button.text !== 'string' || button.text === '') throw bad("can't parse inline keyboard button: Text must be non-empty");
        const actions = ['url', 'callback_data', 'web_app', 'login_url', 'switch_inline_query', 'switch_inline_query_current_chat', 'switch_inline_query_chosen_chat', 'copy_text', 'callback_game', 'pay'];
        if (!actions.some((a) => button[a] !== undefined)) throw bad('can\'t parse inline keyboard button: Text buttons are unallowed in the inline keyboard');
        if (button.callback_data !== undefined) {
          const size = Buffer.byteLength(String(button.callback_data), 'utf8');
          if (size < 1 || size > 64) throw bad('BUTTON_DATA_INVALID');
        }
        if (button.url !== undefined && !/^(https?|tg):\/\//i.test(String(button.url))) throw bad('inline keyboard button URL is invalid');
      }
    }
  }

  function formatted(p: Params, textKey: string, entitiesKey: string, maxLength: number, tooLong: string): { text: string; entities: MessageEntity[] } | undefined {
    const raw = p.str(textKey);
    if (raw === undefined) return undefined;
    const parseMode = p.str('parse_mode');
    let result: { text: string; entities: MessageEntity[] };
    try {
      result = parseEntities(raw, parseMode);
    } catch (e) {
      if (e instanceof EntityParseError) throw bad(`can't parse entities: ${e.message}`);
      throw e;
    }
    const explicit = p.json<MessageEntity[]>(entitiesKey, `can't parse entities JSON object`);
    if (explicit && !parseMode) result.entities = explicit;
    if (result.text.length > maxLength) throw bad(tooLong);
    return result;
  }

  function replyTarget(state: ChatState, p: Params): number | undefined {
    const params = p.json<Json>('reply_parameters', "can't parse reply parameters JSON object");
    const id = params?.message_id ?? p.int('reply_to_message_id');
    if (id === undefined) return undefined;
    const target = state.messages.get(Number(id));
    if (!target || target.deleted) {
      if (params?.allow_sending_without_reply || p.bool('allow_sending_without_reply')) return undefined;
      throw bad('message to be replied not found');
    }
    return Number(id);
  }

  async function resolveInputFile(p: Params, key: string, kind: FileKind): Promise<TgStoredFile> {
    const direct = p.files.get(key);
    const value = p.raw[key];
    let part: UploadedPart | undefined = direct;
    if (!part && typeof value === 'string' && value.startsWith('attach://')) {
      part = p.files.get(value.slice('attach://'.length));
      if (!part) throw bad('wrong file identifier/HTTP URL specified');
    }
    if (part) {
      if (part.bytes.length === 0) throw bad('file must be non-empty');
      if (part.bytes.length > uploadLimit) throw new TgError(413, 'Request Entity Too Large');
      const fileName = part.filename && part.filename !== key ? part.filename : undefined;
      const mime = MIME_BY_EXT[extOf(fileName) ?? ''] ?? (part.contentType !== 'application/octet-stream' ? part.contentType : undefined);
      return registerFile(part.bytes, kind, fileName, mime);
    }
    if (typeof value !== 'string' || value === '') throw bad(`there is no ${key} in the request`);
    if (/^https?:\/\//i.test(value)) {
      let bytes: Buffer;
      try {
        const response = await fetch(value, { signal: AbortSignal.timeout(10000) });
        if (!response.ok) throw new Error(String(response.status));
        bytes = Buffer.from(await response.arrayBuffer());
      } catch {
        throw bad('failed to get HTTP URL content');
      }
      if (bytes.length > uploadLimit) throw bad('failed to get HTTP URL content');
      const fileName = path.basename(new URL(value).pathname) || undefined;
      return registerFile(bytes, kind, fileName, MIME_BY_EXT[extOf(fileName) ?? '']);
    }
    const existing = files.get(value);
    if (!existing) throw bad('wrong file identifier/HTTP URL specified');
    return existing;
  }

  function mediaField(kind: FileKind, file: TgStoredFile, p: Params, fallbackMime: string): Json {
    const base: Json = { file_id: file.fileId, file_unique_id: file.fileUniqueId, file_size: file.size };
    const mime = file.mimeType ?? fallbackMime;
    if (kind === 'photo') {
      const size = imageSize(file.bytes) ?? { width: p.int('width') ?? 0, height: p.int('height') ?? 0 };
      return { photo: photoSizes(file, size.width, size.height) };
    }
    if (kind === 'video' || kind === 'animation') {
      const info = mp4Info(file.bytes);
      const video = {
        ...base,
        width: p.int('width') ?? info?.width ?? 0,
        height: p.int('height') ?? info?.height ?? 0,
        duration: p.int('duration') ?? info?.duration ?? 0,
        ...(file.fileName ? { file_name: file.fileName } : {}),
        mime_type: mime,
      };
      if (kind === 'animation') {
        return { animation: video, document: { ...base, ...(file.fileName ? { file_name: file.fileName } : {}), mime_type: mime } };
      }
      return { video };
    }
    if (kind === 'audio') {
      return {
        audio: {
          ...base,
          duration: p.int('duration') ?? 0,
          ...(p.str('performer') ? { performer: p.str('performer') } : {}),
          ...(p.str('title') ? { title: p.str('title') } : {}),
          ...(file.fileName ? { file_name: file.fileName } : {}),
          mime_type: mime,
        },
      };
    }
    if (kind === 'voice') return { voice: { ...base, duration: p.int('duration') ?? 0, mime_type: mime } };
    return { document: { ...base, ...(file.fileName ? { file_name: file.fileName } : {}), mime_type: mime } };
  }

  function findMessage(p: Params, notFound: string): { state: ChatState; entry: ChatMessage } {
    if (p.has('inline_message_id')) throw bad('MESSAGE_ID_INVALID');
    const state = chatFor(p);
    const messageId = p.int('message_id');
    if (messageId === undefined) throw bad('message identifier is not specified');
    const entry = state.messages.get(messageId);
    if (!entry || entry.deleted) throw bad(notFound);
    return { state, entry };
  }

  function sameMarkup(a: Json | undefined, b: Json | undefined): boolean {
    const norm = (m: Json | undefined) => (m && Array.isArray(m.inline_keyboard) && m.inline_keyboard.length === 0 ? undefined : m);
    return JSON.stringify(norm(a) ?? null) === JSON.stringify(norm(b) ?? null);
  }

  function applyEdit(entry: ChatMessage, changes: Json, removeKeys: string[]): void {
    for (const key of removeKeys) delete entry.message[key];
    Object.assign(entry.message, changes);
    entry.message.edit_date = Math.floor(Date.now() / 1000);
    entry.editedAt = Date.now();
    entry.history.push(versionOf(entry));
  }

  function commandKey(p: Params): string {
    const scope = p.json<Json>('scope', "can't parse BotCommandScope JSON object") ?? { type: 'default' };
    return `${JSON.stringify(scope)}|${p.str('language_code') ?? ''}`;
  }

  // --- methods

  type Handler = (p: Params, ctx: { req: IncomingMessage; res: ServerResponse }) => unknown;

  const methods: Record<string, Handler> = {
    getme: () => ({
      ...botUser,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    }),
    logout: () => true,
    close: () => true,
    deletewebhook: (p) => {
      webhookUrl = '';
      if (p.bool('drop_pending_updates')) pending = [];
      return true;
    },
    setwebhook: (p) => {
      webhookUrl = p.str('url') ?? '';
      return true;
    },
    getwebhookinfo: () => ({ url: webhookUrl, has_custom_certificate: false, pending_update_count: pending.length }),
    getupdates: (p, { res }) => getUpdates(p, res),

    setmycommands: (p) => {
      const list = p.json<Json[]>('commands', "can't parse commands JSON object");
      if (!Array.isArray(list)) throw bad('parameter "commands" is required');
      if (list.length > 100) throw bad('too many commands');
      for (const command of list) {
        if (typeof command.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(command.command)) throw bad('BOT_COMMAND_INVALID');
        if (typeof command.description !== 'string' || command.description.length < 1 || command.description.length > 256) {
          throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
        }
      }
      commandSets.set(commandKey(p), list.map((c) => ({ command: c.command, description: c.description })));
      return true;
    },
    getmycommands: (p) => commandSets.get(commandKey(p)) ?? [],
    deletemycommands: (p) => {
      commandSets.delete(commandKey(p));
      return true;
    },
    setmydescription: (p) => (botSettings.set('description', p.str('description')), true),
    setmyshortdescription: (p) => (botSettings.set('short_description', p.str('short_description')), true),
    setmyname: (p) => (botSettings.set('name', p.str('name')), true),
    setchatmenubutton: (p) => (botSettings.set('menu_button', p.json('menu_button', "can't parse menu button JSON object")), true),
    getchat: (p) => {
      const state = chatFor(p);
      return { ...state.chat, accent_color_id: 0, max_reaction_count: 11, accepted_gift_types: { unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false } };
    },

    sendchataction: (p) => {
      const state = chatFor(p);
      const action = p.str('action') ?? '';
      if (!CHAT_ACTIONS.has(action)) throw bad('wrong parameter action in request');
      state.actions.push(action);
      return true;
    },

    sendmessage: (p) => {
      const state = chatFor(p);
      const text = formatted(p, 'text', 'entities', 4096, 'message is too long');
      if (!text || text.text.trim() === '') throw bad('message text is empty');
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      const replyTo = replyTarget(state, p);
      const fields: Json = {
        text: text.text,
        ...(text.entities.length ? { entities: text.entities } : {}),
        ...(markup?.inline_keyboard ? { reply_markup: { inline_keyboard: markup.inline_keyboard } } : {}),
        ...(p.has('message_thread_id') ? { message_thread_id: p.int('message_thread_id') } : {}),
        ...replyFields(state, replyTo),
      };
      const entry = addMessage(state, { fromBot: true, method: 'sendMessage', params: p.raw, file: undefined, supportsStreaming: false }, fields, botUser);
      return entry.message;
    },

    editmessagetext: (p) => {
      const { entry } = findMessage(p, 'message to edit not found');
      if (!entry.fromBot) throw bad("message can't be edited");
      if (entry.message.text === undefined) throw bad('there is no text in the message to edit');
      const text = formatted(p, 'text', 'entities', 4096, 'MESSAGE_TOO_LONG');
      if (!text || text.text.trim() === '') throw bad('message text is empty');
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      const nextMarkup = markup?.inline_keyboard ? { inline_keyboard: markup.inline_keyboard } : undefined;
      if (
        text.text === entry.message.text &&
        JSON.stringify(text.entities) === JSON.stringify(entry.message.entities ?? []) &&
        sameMarkup(nextMarkup, entry.message.reply_markup)
      ) {
        throw bad(NOT_MODIFIED);
      }
      // an edit without reply_markup removes the inline keyboard
      applyEdit(
        entry,
        { text: text.text, ...(text.entities.length ? { entities: text.entities } : {}), ...(nextMarkup ? { reply_markup: nextMarkup } : {}) },
        ['entities', 'reply_markup'],
      );
      return entry.message;
    },

    editmessagecaption: (p) => {
      const { entry } = findMessage(p, 'message to edit not found');
      if (!entry.fromBot) throw bad("message can't be edited");
      if (entry.message.text !== undefined) throw bad('there is no caption in the message to edit');
      const caption = formatted(p, 'caption', 'caption_entities', 1024, 'message caption is too long');
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      const nextMarkup = markup?.inline_keyboard ? { inline_keyboard: markup.inline_keyboard } : undefined;
      if ((caption?.text ?? undefined) === entry.message.caption && sameMarkup(nextMarkup, entry.message.reply_markup)) throw bad(NOT_MODIFIED);
      applyEdit(
        entry,
        {
          ...(caption && caption.text !== '' ? { caption: caption.text } : {}),
          ...(caption?.entities.length ? { caption_entities: caption.entities } : {}),
          ...(nextMarkup ? { reply_markup: nextMarkup } : {}),
        },
        ['caption', 'caption_entities', 'reply_markup'],
      );
      return entry.message;
    },

    editmessagereplymarkup: (p) => {
      const { entry } = findMessage(p, 'message to edit not found');
      if (!entry.fromBot) throw bad("message can't be edited");
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      const nextMarkup = markup?.inline_keyboard?.length ? { inline_keyboard: markup.inline_keyboard } : undefined;
      if (sameMarkup(nextMarkup, entry.message.reply_markup)) throw bad(NOT_MODIFIED);
      applyEdit(entry, nextMarkup ? { reply_markup: nextMarkup } : {}, ['reply_markup']);
      return entry.message;
    },

    editmessagemedia: async (p) => {
      const { entry } = findMessage(p, 'message to edit not found');
      if (!entry.fromBot) throw bad("message can't be edited");
      if (entry.message.text !== undefined) throw bad("message can't be edited");
      const media = p.json<Json>('media', "can't parse InputMedia JSON object");
      if (!media || typeof media.type !== 'string') throw bad("can't parse InputMedia JSON object");
      const kind = media.type as FileKind;
      const spec = Object.values(MEDIA_METHODS).find((m) => m.kind === kind);
      if (!spec) throw bad('wrong type of the web page content');
      const mediaParams = new Params({ ...media, [spec.param]: media.media }, p.files);
      const file = await resolveInputFile(mediaParams, spec.param, kind);
      const caption = formatted(mediaParams, 'caption', 'caption_entities', 1024, 'message caption is too long');
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      entry.file = file;
      applyEdit(
        entry,
        {
          ...mediaField(kind, file, mediaParams, spec.mime),
          ...(caption && caption.text !== '' ? { caption: caption.text } : {}),
          ...(caption?.entities.length ? { caption_entities: caption.entities } : {}),
          ...(markup?.inline_keyboard ? { reply_markup: { inline_keyboard: markup.inline_keyboard } } : {}),
        },
        ['photo', 'video', 'animation', 'document', 'audio', 'voice', 'caption', 'caption_entities', 'reply_markup'],
      );
      return entry.message;
    },

    deletemessage: (p) => {
      const { entry } = findMessage(p, 'message to delete not found');
      entry.deleted = true;
      return true;
    },
    deletemessages: (p) => {
      const state = chatFor(p);
      const ids = p.json<number[]>('message_ids', "can't parse message identifiers JSON object") ?? [];
      for (const id of ids) {
        const entry = state.messages.get(Number(id));
        if (entry) entry.deleted = true;
      }
      return true;
    },

    answercallbackquery: (p) => {
      const id = p.str('callback_query_id') ?? '';
      const query = callbackQueries.get(id);
      if (!query || query.answered) throw bad('query is too old and response timeout expired or query ID is invalid');
      const text = p.str('text');
      const url = p.str('url');
      const cacheTime = p.int('cache_time');
      const answer: CallbackAnswer = {
        callbackQueryId: id,
        showAlert: p.bool('show_alert'),
        at: Date.now(),
        ...(text !== undefined ? { text } : {}),
        ...(url !== undefined ? { url } : {}),
        ...(cacheTime !== undefined ? { cacheTime } : {}),
      };
      query.answered = true;
      query.answer = answer;
      callbackAnswers.push(answer);
      return true;
    },

    getfile: (p) => {
      const fileId = p.str('file_id') ?? '';
      const file = files.get(fileId);
      if (!file) throw bad('invalid file_id');
      if (file.size > getFileLimit) throw bad('file is too big');
      return { file_id: file.fileId, file_unique_id: file.fileUniqueId, file_size: file.size, file_path: file.filePath };
    },
  };

  for (const [method, spec] of Object.entries(MEDIA_METHODS)) {
    const name = `send${spec.param[0]!.toUpperCase()}${spec.param.slice(1)}`;
    methods[method] = async (p) => {
      const state = chatFor(p);
      const caption = formatted(p, 'caption', 'caption_entities', 1024, 'message caption is too long');
      const markup = p.json<Json>('reply_markup', "can't parse reply keyboard markup JSON object");
      validateMarkup(markup);
      const replyTo = replyTarget(state, p);
      const file = await resolveInputFile(p, spec.param, spec.kind);
      const fields: Json = {
        ...mediaField(spec.kind, file, p, spec.mime),
        ...(caption && caption.text !== '' ? { caption: caption.text } : {}),
        ...(caption?.entities.length ? { caption_entities: caption.entities } : {}),
        ...(p.bool('has_spoiler') ? { has_media_spoiler: true } : {}),
        ...(p.bool('show_caption_above_media') ? { show_caption_above_media: true } : {}),
        ...(markup?.inline_keyboard ? { reply_markup: { inline_keyboard: markup.inline_keyboard } } : {}),
        ...replyFields(state, replyTo),
      };
      const entry = addMessage(state, { fromBot: true, method: name, params: p.raw, file, supportsStreaming: p.bool('supports_streaming') }, fields, botUser);
      return entry.message;
    };
  }

  async function getUpdates(p: Params, res: ServerResponse): Promise<Json[]> {
    if (webhookUrl) throw new TgError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = p.int('offset');
    const limit = Math.min(Math.max(p.int('limit') ?? 100, 1), 100);
    const timeout = Math.max(p.int('timeout') ?? 0, 0);
    const allowed = p.json<string[]>('allowed_updates', "can't parse allowed updates JSON object");
    if (allowed !== undefined) allowedUpdates = allowed;

    // confirming: every update below offset is forgotten; a negative offset keeps the last -offset
    if (offset !== undefined) {
      if (offset < 0) pending = pending.slice(offset);
      else pending = pending.filter((u) => u.update_id >= offset);
    }
    const take = (): Json[] => {
      pending = pending.filter((u) => isAllowed(u));
      return pending.slice(0, limit);
    };
    const now = take();
    if (now.length > 0 || timeout === 0) return now;

    // long poll: a newer getUpdates terminates this one, as on the real server
    poller?.conflict();
    return new Promise<Json[]>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        if (poller === self) poller = null;
      };
      const self: Poller = {
        wake() {
          const updates = take();
          if (updates.length === 0) return;
          finish();
          resolve(updates);
        },
        conflict() {
          finish();
          reject(new TgError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
        },
      };
      const timer = setTimeout(() => {
        finish();
        resolve([]);
      }, timeout * 1000);
      poller = self;
      res.on('close', () => {
        if (!res.writableEnded) {
          // the client went away (grammY's bot.stop() aborts the pending poll)
          finish();
          resolve([]);
        }
      });
    });
  }

  function isAllowed(update: Json): boolean {
    const type = Object.keys(update).find((k) => k !== 'update_id');
    if (!type) return false;
    if (allowedUpdates.length === 0) return !['chat_member', 'message_reaction', 'message_reaction_count'].includes(type);
    return allowedUpdates.includes(type);
  }

  // --- HTTP

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((e: unknown) => {
      console.error('[telegram-emu] internal error', e);
      if (!res.headersSent) sendJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' });
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const apiRoot = `http://127.0.0.1:${port}`;

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', apiRoot);
    const pathname = decodeURIComponent(url.pathname);

    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(pathname);
    if (download) {
      const file = download[1] === token ? filesByPath.get(download[2]!) : undefined;
      if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
        sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      res.writeHead(200, { 'content-type': file.mimeType ?? 'application/octet-stream', 'content-length': String(file.bytes.length) });
      res.end(req.method === 'HEAD' ? undefined : file.bytes);
      return;
    }

    const call = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z]+)$/.exec(pathname);
    if (!call) {
      sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const methodName = call[2]!;
    const entry: ApiCall = { at: Date.now(), method: methodName, params: {}, files: [], ok: false };
    apiCalls.push(entry);
    try {
      let body;
      try {
        body = await parseBody(req, { rewrite: quoteUnquotedFilenames });
      } catch {
        throw bad("can't parse request body");
      }
      const raw: Json = { ...Object.fromEntries(url.searchParams), ...((body.json as Json | undefined) ?? {}) };
      const parts = new Map(body.files.map((f) => [f.field, f]));
      entry.params = raw;
      entry.files = body.files.map((f) => ({ field: f.field, filename: f.filename, size: f.bytes.length }));
      if (call[1] !== token) throw new TgError(401, 'Unauthorized');
      const lower = methodName.toLowerCase();
      const injection = injected.find((i) => i.method.toLowerCase() === lower);
      if (injection) {
        injection.times = (injection.times ?? 1) - 1;
        if (injection.times <= 0) injected.splice(injected.indexOf(injection), 1);
        throw new TgError(injection.error_code, injection.description, injection.parameters);
      }
      const handler = methods[lower];
      if (!handler) throw new TgError(404, 'Not Found');
      const result = await handler(new Params(raw, parts), { req, res });
      entry.ok = true;
      log(methodName, 'ok');
      if (!res.writableEnded && !res.destroyed) sendJson(res, 200, { ok: true, result });
    } catch (e) {
      if (!(e instanceof TgError)) throw e;
      entry.errorCode = e.code;
      entry.description = e.description;
      log(methodName, e.code, e.description);
      if (!res.writableEnded && !res.destroyed) {
        sendJson(res, e.code, { ok: false, error_code: e.code, description: e.description, ...(e.parameters ? { parameters: e.parameters } : {}) });
      }
    } finally {
      changed();
    }
  }

  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    rejectWaiters(new Error('telegram emulator stopped'));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await closed;
    poller?.conflict();
    poller = null;
  }

  // --- test API

  function mediaFromUser(kind: FileKind, bytes: Uint8Array, fileName: string | undefined, mimeType: string | undefined, fileSize: number | undefined): TgStoredFile {
    return registerFile(Buffer.from(bytes), kind, fileName, mimeType, fileSize);
  }

  const emulator: TelegramEmulator = {
    port,
    apiRoot,
    token,
    botUser,
    defaultUser,
    stop,

    sendText(chat, user, text, opts = {}) {
      return userMessage(chat, user, { text, ...(opts.entities ? { entities: opts.entities } : {}) }, opts.replyTo);
    },
    sendCommand(chat, user, command, args, opts = {}) {
      const name = command.replace(/^\//, '');
      const resolved = resolveChat(chat, resolveUser(user));
      const mention = opts.mention ?? resolved.chat.type !== 'private';
      const head = `/${name}${mention ? `@${botUser.username}` : ''}`;
      const text = args ? `${head} ${args}` : head;
      return userMessage(chat, user, { text, entities: [{ type: 'bot_command', offset: 0, length: head.length }] });
    },
    sendVoice(chat, user, bytes, opts = {}) {
      const mime = opts.mime_type ?? 'audio/ogg';
      const file = mediaFromUser('voice', bytes, undefined, mime, opts.fileSize);
      return userMessage(
        chat,
        user,
        { voice: { file_id: file.fileId, file_unique_id: file.fileUniqueId, duration: opts.duration ?? 1, mime_type: mime, file_size: file.size }, ...(opts.caption ? { caption: opts.caption } : {}) },
        opts.replyTo,
      );
    },
    sendAudio(chat, user, bytes, opts = {}) {
      const fileName = opts.file_name ?? 'audio.mp3';
      const mime = opts.mime_type ?? MIME_BY_EXT[extOf(fileName) ?? ''] ?? 'audio/mpeg';
      const file = mediaFromUser('audio', bytes, fileName, mime, opts.fileSize);
      return userMessage(
        chat,
        user,
        {
          audio: {
            file_id: file.fileId,
            file_unique_id: file.fileUniqueId,
            duration: opts.duration ?? 1,
            ...(opts.performer ? { performer: opts.performer } : {}),
            ...(opts.title ? { title: opts.title } : {}),
            file_name: fileName,
            mime_type: mime,
            file_size: file.size,
          },
          ...(opts.caption ? { caption: opts.caption } : {}),
        },
        opts.replyTo,
      );
    },
    sendDocument(chat, user, bytes, opts = {}) {
      const fileName = opts.file_name ?? 'document.bin';
      const mime = opts.mime_type ?? MIME_BY_EXT[extOf(fileName) ?? ''] ?? 'application/octet-stream';
      const file = mediaFromUser('document', bytes, fileName, mime, opts.fileSize);
      return userMessage(
        chat,
        user,
        {
          document: { file_id: file.fileId, file_unique_id: file.fileUniqueId, file_name: fileName, mime_type: mime, file_size: file.size },
          ...(opts.caption ? { caption: opts.caption } : {}),
        },
        opts.replyTo,
      );
    },
    sendPhoto(chat, user, bytes, opts = {}) {
      const buffer = Buffer.from(bytes);
      const size = imageSize(buffer);
      const file = mediaFromUser('photo', buffer, undefined, 'image/jpeg', opts.fileSize);
      return userMessage(
        chat,
        user,
        { photo: photoSizes(file, opts.width ?? size?.width ?? 1280, opts.height ?? size?.height ?? 720), ...(opts.caption ? { caption: opts.caption } : {}) },
        opts.replyTo,
      );
    },
    pressButton(message, callbackData, userRef) {
      const chatId: number = 'chatId' in message ? Number(message.chatId) : Number(message.chat?.id);
      const messageId: number = 'messageId' in message ? Number(message.messageId) : Number(message.message_id);
      const state = chats.get(chatId);
      const entry = state?.messages.get(messageId);
      if (!state || !entry || entry.deleted) throw new Error(`telegram emulator: no message ${messageId} in chat ${chatId}`);
      const keyboard: InlineButton[][] = entry.message.reply_markup?.inline_keyboard ?? [];
      if (!keyboard.flat().some((b) => b.callback_data === callbackData)) {
        throw new Error(`telegram emulator: message ${messageId} has no button with callback_data "${callbackData}"`);
      }
      const user = userRef === undefined && state.chat.type === 'private' ? (users.get(chatId) ?? defaultUser) : resolveUser(userRef);
      const callbackQueryId = (BigInt(user.id) * 1000000n + BigInt(Math.floor(Math.random() * 1000000))).toString();
      callbackQueries.set(callbackQueryId, { answered: false });
      const update = pushUpdate({
        callback_query: {
          id: callbackQueryId,
          from: { ...user },
          message: structuredClone(entry.message),
          chat_instance: String(BigInt(chatId) * 7919n),
          data: callbackData,
        },
      });
      return {
        update,
        callbackQueryId,
        answer: (timeoutMs = 5000) => waitFor(() => callbackQueries.get(callbackQueryId)?.answer, timeoutMs),
      };
    },
    pushUpdate,
    registerFile(bytes, opts = {}) {
      return registerFile(Buffer.from(bytes), opts.kind ?? 'document', opts.fileName, opts.mimeType, opts.fileSize);
    },

    botMessages(chatId, opts = {}) {
      const state = chats.get(chatId);
      if (!state) return [];
      return state.order
        .map((id) => state.messages.get(id)!)
        .filter((m) => m.fromBot && (opts.includeDeleted || !m.deleted))
        .map((m) => botMessageView(state, m));
    },
    botMessage(chatId, messageId) {
      const state = chats.get(chatId);
      const entry = state?.messages.get(messageId);
      return state && entry?.fromBot ? botMessageView(state, entry) : undefined;
    },
    chatLog(chatId) {
      const state = chats.get(chatId);
      if (!state) return [];
      return state.order.map((id) => state.messages.get(id)!).filter((m) => !m.deleted).map((m) => m.message);
    },
    callbackAnswers: () => [...callbackAnswers],
    chatActions: (chatId) => [...(chats.get(chatId)?.actions ?? [])],
    myCommands(opts = {}) {
      return structuredClone(commandSets.get(`${JSON.stringify(opts.scope ?? { type: 'default' })}|${opts.language_code ?? ''}`) ?? []);
    },
    calls: (method) => apiCalls.filter((c) => !method || c.method.toLowerCase() === method.toLowerCase()),
    fileBytes: (fileId) => files.get(fileId)?.bytes,
    pendingUpdates: () => pending.length,
    blockBot(chatId, blocked = true) {
      const state = chats.get(chatId) ?? resolveChat(chatId, resolveUser(chatId > 0 ? chatId : undefined));
      state.blocked = blocked;
    },
    injectError(error) {
      injected.push({ ...error, times: error.times ?? 1 });
    },
    waitFor,
  };
  return emulator;
}
