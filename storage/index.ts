// One storage interface for every artifact (job intermediates, final clips, users' voices).
// The filesystem is the default; an S3/MinIO implementation must fit the same interface, so that
// the bot and the worker can run on different hosts.
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  modified: Date;
  contentType?: string;
}

export interface PutOptions {
  contentType?: string;
}

export interface Storage {
  /** Store bytes, a stream, or the contents of a local file (`{ file: path }`) under `key`. */
  put(key: string, body: Buffer | Readable | { file: string }, options?: PutOptions): Promise<StoredObject>;
  get(key: string): Promise<Buffer>;
  /** Copy an object into a local file (for tools such as ffmpeg that need a path). */
  getToFile(key: string, path: string): Promise<void>;
  /** null when the key does not exist. */
  stat(key: string): Promise<StoredObject | null>;
  list(prefix: string): Promise<StoredObject[]>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Delete every object under a prefix (e.g. a cancelled job's intermediates). */
  deletePrefix(prefix: string): Promise<number>;
  /** A local path (filesystem) or a time-limited link (object storage) to hand to a user. */
  link(key: string, options?: { expiresSeconds?: number }): Promise<string>;
}

const KEY_PATTERN = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._\/-]+$/;

/** Keys are relative, free of "..", and made of safe characters: the same rule as the contracts. */
export function assertValidKey(key: string): void {
  if (!key || key.length > 512 || !KEY_PATTERN.test(key) || key.endsWith('/')) {
    throw new Error(`Invalid storage key: ${JSON.stringify(key)}`);
  }
}
