// The private Redis with a state dir writes every change to its append-only file before it answers
// (appendfsync always): a delivered mark written just before a crash is still there after the restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis } from '../../pipeline/services.ts';
import { tempDir } from '../e2e/helpers.ts';

test('the private redis-server with a state dir fsyncs every write, and a mark written just before SIGKILL survives', async (t) => {
  const dir = await tempDir(t, 'spinbot-redis-fsync-');
  const first = await startRedis({ dir });
  t.after(() => first.stop());
  const client = new Redis(first.url);
  t.after(() => client.disconnect());
  assert.deepEqual(await client.config('GET', 'appendfsync'), ['appendfsync', 'always']);
  await client.set('spinbot:test:delivered', '1');
  process.kill(first.process!.pid!, 'SIGKILL');
  client.disconnect();

  const second = await startRedis({ dir });
  t.after(() => second.stop());
  const again = new Redis(second.url);
  t.after(() => again.disconnect());
  assert.equal(await again.get('spinbot:test:delivered'), '1');
});
