// Settings of the HTTP API, from the environment, checked once at start-up. The API runs only when
// SPINBOT_API_PORT is set; it listens on loopback unless SPINBOT_API_HOST says otherwise. Keys come
// from SPINBOT_API_KEYS ("owner1:key1,owner2:key2") or a file of such entries (SPINBOT_API_KEYS_FILE,
// one per line or comma-separated, # comments). A bad setting stops the start with a sentence that
// names the variable and the entry's position, never a key.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface ApiSettings {
  /** 0: any free port (tests read the bound one). */
  port: number;
  host: string;
  keys: ApiKeys;
}

/** An owner name becomes a user id and a storage folder (users/api/<owner>/...): kept to safe characters. */
const OWNER = /^[A-Za-z0-9_-]{1,32}$/;
/** Long enough not to be guessed; printable, without separators or spaces. */
const KEY = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]{16,256}$/;

export class ApiKeys {
  private readonly entries: Array<{ owner: string; digest: Buffer }>;

  constructor(pairs: Array<{ owner: string; key: string }>) {
    this.entries = pairs.map(({ owner, key }) => ({ owner, digest: digest(key) }));
  }

  get size(): number {
    return this.entries.length;
  }

  get owners(): string[] {
    return [...new Set(this.entries.map((e) => e.owner))];
  }

  /**
   * The owner of a presented key, or null. Every stored key is compared, each in constant time
   * (SHA-256 digests of equal length), so the answer's timing does not tell how much matched.
   */
  ownerOf(presented: string | undefined): string | null {
    if (!presented) return null;
    const candidate = digest(presented);
    let owner: string | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate) && owner === null) owner = entry.owner;
    }
    return owner;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Parses "owner:key" entries; `source` names where they came from in error sentences. */
export function parseApiKeys(text: string, source: string): ApiKeys {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
  if (!entries.length) throw new Error(`${source} has no keys: give at least one owner:key entry (e.g. alice:<a random key of 16 or more characters>).`);
  const pairs: Array<{ owner: string; key: string }> = [];
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const at = entry.indexOf(':');
    const owner = at > 0 ? entry.slice(0, at).trim() : '';
    const key = at > 0 ? entry.slice(at + 1).trim() : '';
    const where = `${source} entry ${i + 1}`;
    if (!owner || !key) throw new Error(`${where} is not in the form owner:key.`);
    if (!OWNER.test(owner)) throw new Error(`${where}: the owner name must be 1-32 letters, digits, - or _ (got "${owner.slice(0, 40)}").`);
    if (!KEY.test(key)) throw new Error(`${where} (owner ${owner}): the key must be 16-256 printable characters without spaces, commas or colons.`);
    const hash = digest(key).toString('hex');
    if (seen.has(hash)) throw new Error(`${where} (owner ${owner}) repeats a key given earlier: every key must be different.`);
    seen.add(hash);
    pairs.push({ owner, key });
  });
  return new ApiKeys(pairs);
}

/** The API's settings, or null when SPINBOT_API_PORT is unset (no API). Throws a sentence for a bad setting. */
export function loadApiSettings(env: Record<string, string | undefined> = process.env): ApiSettings | null {
  const rawPort = env.SPINBOT_API_PORT?.trim();
  if (!rawPort) return null;
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65535) throw new Error(`SPINBOT_API_PORT must be a port number (0-65535; 0 picks a free one), got "${rawPort.slice(0, 20)}".`);
  const host = env.SPINBOT_API_HOST?.trim() || '127.0.0.1';
  const inline = env.SPINBOT_API_KEYS?.trim();
  const file = env.SPINBOT_API_KEYS_FILE?.trim();
  if (inline && file) throw new Error('Set SPINBOT_API_KEYS or SPINBOT_API_KEYS_FILE, not both.');
  if (!inline && !file) throw new Error('SPINBOT_API_PORT is set but no keys are: set SPINBOT_API_KEYS="owner:key,..." or SPINBOT_API_KEYS_FILE.');
  let keys: ApiKeys;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`SPINBOT_API_KEYS_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, { cause: error });
    }
    keys = parseApiKeys(text, `SPINBOT_API_KEYS_FILE ${file}`);
  } else {
    keys = parseApiKeys(inline!, 'SPINBOT_API_KEYS');
  }
  return { port, host, keys };
}
