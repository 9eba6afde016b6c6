// One conformance suite for every Storage implementation (filesystem now, S3/MinIO later).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Storage } from '../../storage/index.ts';

export function storageConformance(name: string, open: () => Promise<{ storage: Storage; close(): Promise<void> }>) {
  test(`${name}: conforms to the Storage interface`, async (t) => {
    const { storage, close } = await open();
    const scratch = await mkdtemp(join(tmpdir(), 'spinbot-storage-'));
    t.after(async () => {
      await close();
      await rm(scratch, { recursive: true, force: true });
    });

    await t.test('put then get returns the same bytes, and stat reports the size', async () => {
      const bytes = Buffer.from('narration audio bytes');
      const stored = await storage.put('jobs/abc123/scene-01.wav', bytes, { contentType: 'audio/wav' });
      assert.equal(stored.bytes, bytes.length);
      assert.deepEqual(await storage.get('jobs/abc123/scene-01.wav'), bytes);
      assert.equal((await storage.stat('jobs/abc123/scene-01.wav'))?.bytes, bytes.length);
    });

    await t.test('streams and local files can be stored, and copied back to a file', async () => {
      await storage.put('jobs/abc123/scene-02.png', Readable.from([Buffer.from('png-'), Buffer.from('bytes')]));
      assert.equal((await storage.get('jobs/abc123/scene-02.png')).toString(), 'png-bytes');
      const source = join(scratch, 'clip.mp4');
      await writeFile(source, 'mp4 bytes');
      await storage.put('jobs/abc123/final.mp4', { file: source }, { contentType: 'video/mp4' });
      const copy = join(scratch, 'out', 'copy.mp4');
      await storage.getToFile('jobs/abc123/final.mp4', copy);
      assert.equal(await readFile(copy, 'utf8'), 'mp4 bytes');
    });

    await t.test('a second put replaces the object', async () => {
      await storage.put('users/discord/42/voices/anna.wav', Buffer.from('first'));
      await storage.put('users/discord/42/voices/anna.wav', Buffer.from('second take'));
      assert.equal((await storage.get('users/discord/42/voices/anna.wav')).toString(), 'second take');
    });

    await t.test('list returns the keys under a prefix, sorted, and nothing else', async () => {
      const listed = (await storage.list('jobs/abc123/')).map((o) => o.key);
      assert.deepEqual(listed, ['jobs/abc123/final.mp4', 'jobs/abc123/scene-01.wav', 'jobs/abc123/scene-02.png']);
      assert.deepEqual(await storage.list('jobs/nothing-here/'), []);
    });

    await t.test('a missing key: stat is null, get fails, delete is quiet', async () => {
      assert.equal(await storage.stat('jobs/missing/final.mp4'), null);
      await assert.rejects(storage.get('jobs/missing/final.mp4'));
      await storage.delete('jobs/missing/final.mp4');
    });

    await t.test('keys that escape the store or are absolute are refused', async () => {
      for (const key of ['../etc/passwd', '/etc/passwd', 'jobs/../../x', 'jobs/a b', '']) {
        await assert.rejects(storage.put(key, Buffer.from('x')), /Invalid storage key/, key);
      }
    });

    await t.test('link hands out a location for an existing object only', async () => {
      assert.ok((await storage.link('jobs/abc123/final.mp4')).length > 0);
      await assert.rejects(storage.link('jobs/missing/final.mp4'));
    });

    await t.test('deletePrefix removes a job and leaves others', async () => {
      await storage.put('jobs/other1/final.mp4', Buffer.from('keep'));
      assert.equal(await storage.deletePrefix('jobs/abc123/'), 3);
      assert.deepEqual(await storage.list('jobs/abc123/'), []);
      assert.equal((await storage.get('jobs/other1/final.mp4')).toString(), 'keep');
    });
  });
}
