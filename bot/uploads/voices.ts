// Saved voices and reference pictures, per user: uploads are downloaded (bot/uploads/download.ts),
// identified by content (media/identify.ts), voice samples converted to 24 kHz mono WAV with the
// silence at both ends trimmed (media/voice-sample.ts) and accepted at 3-30 s of speech. Stored
// under the user's own namespace; nothing is stored when any check fails.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { normalizeText } from '../../agent/normalize.ts';
import { isMediaError } from '../../media/errors.ts';
import { IMAGE_LIMITS, identifyFile, type Identified } from '../../media/identify.ts';
import { prepareVoiceSample } from '../../media/voice-sample.ts';
import { UserError } from '../../pipeline/errors.ts';
import type { Storage } from '../../storage/index.ts';
import { keys } from '../../storage/keys.ts';
import { transcriptKeyFor } from '../../gpu-bridge/transcribe.ts';
import { downloadUpload, rejected, type DownloadPolicy, type UploadSource } from './download.ts';

export interface Owner {
  platform: 'console' | 'discord' | 'telegram' | 'api';
  userId: string;
}

export interface SavedVoice {
  name: string;
  key: string;
  bytes: number;
  modified: Date;
}

export interface SavedSample {
  name: string;
  seconds: number;
  replaced: boolean;
  transcript?: string | null;
  /** The voice profile's summary for the chat once the worker built it (after the reply), null when that failed. */
  profile?: Promise<string | null>;
}

export const VOICE_SECONDS = { min: 3, max: 30 } as const;
/** An upload longer than this (its container's duration, read before decoding) cannot hold a usable sample. */
export const VOICE_UPLOAD_MAX_SECONDS = 120;
const VOICE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const AUDIO_FORMATS_HINT = 'a voice message or an audio file (OGG, MP3, WAV, M4A, FLAC)';

/** "Anna Smith" -> "anna-smith"; refuses names that cannot be a storage key. */
export function normalizeVoiceName(raw: string): string {
  const name = normalizeText(raw).toLowerCase().replace(/\s+/g, '-');
  if (!VOICE_NAME.test(name)) {
    throw new UserError('voice.nameInvalid', `"${normalizeText(raw).slice(0, 40)}" cannot be a voice name: use 1-32 letters, digits, - or _ (e.g. anna or my-voice).`);
  }
  return name;
}

const voicesPrefix = (owner: Owner) => path.posix.dirname(keys.userVoice(owner.platform, owner.userId, 'x')) + '/';
const imagesPrefix = (owner: Owner) => `users/${owner.platform}/${owner.userId}/images/`;

function formatLength(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds / 3600)} hours`;
}

/** A picture whose header declares more than IMAGE_LIMITS: refused without decoding it. */
function tooManyPixels(identified: Identified): UserError {
  const { width, height } = identified.pixels!;
  const megapixels = (width * height) / 1e6;
  return new UserError(
    'upload.tooManyPixels',
    `That picture is ${width}x${height} pixels (${megapixels >= 10 ? Math.round(megapixels) : megapixels.toFixed(1)} MP); ` +
      `the most I take is ${IMAGE_LIMITS.maxPixels / 1e6} MP, at most ${IMAGE_LIMITS.maxSide} pixels a side. Send a smaller picture.`,
  );
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'spinbot-upload-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class VoiceLibrary {
  constructor(
    private readonly storage: Storage,
    /**
     * transcribe: what a saved sample says (the worker's transcribe job), null when it cannot tell in time;
     * profile: builds the saved voice's profile in the background (bot/train.ts voiceProfileAfterSave).
     */
    private readonly options: {
      maxVoices: number;
      transcribe?: (audioKey: string, owner: Owner) => Promise<string | null>;
      profile?: (audioKey: string, owner: Owner) => Promise<string | null>;
    },
  ) {}

  key(owner: Owner, name: string): string {
    return keys.userVoice(owner.platform, owner.userId, name);
  }

  async list(owner: Owner): Promise<SavedVoice[]> {
    const prefix = voicesPrefix(owner);
    const objects = await this.storage.list(prefix);
    return objects
      // Only the samples themselves: a voice's profile (<name>/reference.wav) is not another voice.
      .filter((o) => o.key.endsWith('.wav') && !o.key.slice(prefix.length).includes('/'))
      .map((o) => ({ name: path.posix.basename(o.key, '.wav'), key: o.key, bytes: o.bytes, modified: o.modified }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async find(owner: Owner, rawName: string): Promise<SavedVoice | null> {
    let name: string;
    try {
      name = normalizeVoiceName(rawName);
    } catch {
      return null;
    }
    const stored = await this.storage.stat(this.key(owner, name));
    return stored ? { name, key: stored.key, bytes: stored.bytes, modified: stored.modified } : null;
  }

  /** The saved voice, or a UserError that lists the ones there are. */
  async require(owner: Owner, rawName: string): Promise<SavedVoice> {
    const found = await this.find(owner, rawName);
    if (found) return found;
    const names = (await this.list(owner)).map((v) => v.name);
    throw new UserError(
      'voice.notFound',
      names.length
        ? `You have no saved voice called "${rawName}". Your voices: ${names.join(', ')}.`
        : `You have no saved voice called "${rawName}" (no voices yet). Upload a 3-30 s voice sample first.`,
    );
  }

  async remove(owner: Owner, rawName: string): Promise<boolean> {
    const found = await this.find(owner, rawName);
    if (!found) return false;
    await this.storage.delete(found.key);
    await this.storage.delete(transcriptKeyFor(found.key));
    return true;
  }

  /** Downloads, checks, converts and stores a voice sample. Nothing is stored when a check fails. */
  addFromUpload(owner: Owner, rawName: string, source: UploadSource, policy: DownloadPolicy): Promise<SavedSample> {
    return this.addSample(owner, rawName, (raw) => downloadUpload(source, raw, policy));
  }

  /**
   * The same checks for a sample that arrives some other way (the HTTP API's multipart upload):
   * `writeTo` puts the raw upload into the given path, within its own size limit.
   */
  async addSample(owner: Owner, rawName: string, writeTo: (path: string) => Promise<unknown>): Promise<SavedSample> {
    const name = normalizeVoiceName(rawName);
    const existing = await this.storage.stat(this.key(owner, name));
    if (!existing && (await this.list(owner)).length >= this.options.maxVoices) {
      throw new UserError('voice.limit', `You already have ${this.options.maxVoices} saved voices, the most allowed. Remove one first (voice remove).`);
    }
    return withTempDir(async (dir) => {
      const raw = path.join(dir, 'upload');
      await writeTo(raw);
      const identified = await identifyFile(raw);
      if (identified.kind === 'image' || !identified.media?.audio || (identified.kind !== 'audio' && identified.kind !== 'video')) {
        throw rejected('unsupported', new UserError('upload.unsupported', `That file is ${identified.description}, not audio. Send ${AUDIO_FORMATS_HINT} with 3-30 s of speech.`));
      }
      // The container's own duration, before anything is decoded: hours of audio are refused unread.
      const declaredSeconds = identified.media.durationSeconds;
      if (declaredSeconds > VOICE_UPLOAD_MAX_SECONDS) {
        throw rejected(
          'too_long',
          new UserError('voice.tooLong', `That recording is ${formatLength(declaredSeconds)} long; I need ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech. Trim it and send it again.`),
        );
      }
      // A header can understate the length: decoding stops at the limit whatever it said.
      const sample = await prepareVoiceSample(raw, path.join(dir, 'voice.wav'), { maxInputSeconds: VOICE_UPLOAD_MAX_SECONDS }).catch((error: unknown) => {
        if (isMediaError(error)) {
          throw rejected('unsupported', new UserError('upload.unsupported', `I could not read the audio in that file. Send ${AUDIO_FORMATS_HINT} with 3-30 s of speech.`, { cause: error }));
        }
        throw error;
      });
      if (sample.seconds < VOICE_SECONDS.min) {
        throw rejected(
          'too_short',
          new UserError(
            'voice.tooShort',
            `That sample has only ${sample.seconds.toFixed(1)} s of sound once the silence is trimmed; I need ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech.`,
          ),
        );
      }
      if (sample.seconds > VOICE_SECONDS.max) {
        throw rejected(
          'too_long',
          new UserError(
            'voice.tooLong',
            `That sample is ${sample.seconds.toFixed(1)} s long; I need ${VOICE_SECONDS.min}-${VOICE_SECONDS.max} s of speech. Trim it and send it again.`,
          ),
        );
      }
      await this.storage.put(this.key(owner, name), { file: sample.outPath }, { contentType: 'audio/wav' });
      const transcript = await this.options.transcribe?.(this.key(owner, name), owner);
      // Started after the transcript and not awaited: the reply is not delayed by it.
      const profile = this.options.profile?.(this.key(owner, name), owner);
      return { name, seconds: sample.seconds, replaced: Boolean(existing), transcript, ...(profile ? { profile } : {}) };
    });
  }
}

/** The user's current reference picture (the last photo they sent), kept one per user. */
export class ReferenceImages {
  constructor(private readonly storage: Storage) {}

  async current(owner: Owner): Promise<string | null> {
    const objects = await this.storage.list(imagesPrefix(owner));
    return objects.find((o) => path.posix.basename(o.key).startsWith('reference.'))?.key ?? null;
  }

  async addFromUpload(owner: Owner, source: UploadSource, policy: DownloadPolicy): Promise<{ key: string; width: number; height: number }> {
    return withTempDir(async (dir) => {
      const raw = path.join(dir, 'upload');
      await downloadUpload(source, raw, policy);
      const identified = await identifyFile(raw);
      if (identified.oversized) throw rejected('too_large', tooManyPixels(identified));
      if (identified.kind !== 'image' || !['png', 'jpeg', 'webp'].includes(identified.format)) {
        throw rejected('unsupported', new UserError('upload.unsupported', `That file is ${identified.description}, not a picture I can use. Send a PNG, JPEG or WebP image.`));
      }
      const key = `${imagesPrefix(owner)}reference.${identified.format === 'jpeg' ? 'jpg' : identified.format}`;
      const previous = await this.current(owner);
      await this.storage.put(key, { file: raw }, { contentType: `image/${identified.format}` });
      if (previous && previous !== key) await this.storage.delete(previous);
      return { key, width: identified.pixels?.width ?? 0, height: identified.pixels?.height ?? 0 };
    });
  }
}
