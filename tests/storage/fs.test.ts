import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { FsStorage } from '../../storage/fs.ts';
import { storageConformance } from './conformance.ts';

storageConformance('filesystem storage', async () => {
  const root = await mkdtemp(join(tmpdir(), 'spinbot-fs-'));
  return { storage: new FsStorage(root), close: () => rm(root, { recursive: true, force: true }) };
});

test('filesystem storage: a failed write leaves no partial file behind', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'spinbot-fs-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const storage = new FsStorage(root);
  const broken = new Readable({
    read() {
      this.push(Buffer.from('half a clip'));
      this.destroy(new Error('connection lost'));
    },
  });
  await assert.rejects(storage.put('jobs/abc123/final.mp4', broken), /connection lost/);
  assert.equal(await storage.stat('jobs/abc123/final.mp4'), null);
  assert.deepEqual(await readdir(join(root, 'jobs', 'abc123')), []);
});
