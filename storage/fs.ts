// Filesystem storage under a data directory. Writes go to a temp file first and are renamed into
// place, so a reader never sees half a file and a crash leaves no partial artifact behind.
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { assertValidKey, type PutOptions, type Storage, type StoredObject } from './index.ts';

export class FsStorage implements Storage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The absolute path of a key; only for this process's own use (ffmpeg inputs, links). */
  pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Buffer | Readable | { file: string }, _options?: PutOptions): Promise<StoredObject> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      if (Buffer.isBuffer(body)) await writeFile(temp, body);
      else if (body instanceof Readable) await pipeline(body, createWriteStream(temp));
      else await copyFile(body.file, temp);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return (await this.stat(key))!;
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  async getToFile(key: string, path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await pipeline(createReadStream(this.pathOf(key)), createWriteStream(path));
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, bytes: info.size, modified: info.mtime } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const start = join(this.root, ...prefix.split('/').filter(Boolean));
    const found: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && !entry.name.includes('.tmp-')) {
          const key = relative(this.root, path).split(sep).join('/');
          if (key.startsWith(prefix)) {
            const info = await stat(path);
            found.push({ key, bytes: info.size, modified: info.mtime });
          }
        }
      }
    };
    // A prefix may end mid-name (jobs/abc matches jobs/abc-1/...): walk from its folder.
    await walk(prefix.endsWith('/') ? start : dirname(start));
    return found.sort((a, b) => a.key.localeCompare(b.key));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    await Promise.all(objects.map((o) => this.delete(o.key)));
    return objects.length;
  }

  async link(key: string): Promise<string> {
    if (!(await this.stat(key))) throw new Error(`No stored object at ${key}`);
    return this.pathOf(key);
  }
}
