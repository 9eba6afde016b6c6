// The S3 storage against real S3-protocol servers: the shared conformance suite on s3rver and on
// moto, then what only object storage does (content types, presigned links that expire, multipart,
// the lifecycle rule for intermediates), and choosing a storage from the environment.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Client } from 'minio';
import { FsStorage } from '../../storage/fs.ts';
import { INTERMEDIATE_RULE_ID, S3Storage } from '../../storage/s3.ts';
import { STORAGE_ENV_NAMES, createStorage, storageEnvFor } from '../../storage/select.ts';
import { storageConformance } from './conformance.ts';
import { envFor, settingsFor, startMoto, startS3rver, type S3Server } from './servers.ts';

// One server of each kind for the whole file, started on first use and stopped at the end.
const started: Promise<S3Server>[] = [];
function once(start: () => Promise<S3Server>): () => Promise<S3Server> {
  let server: Promise<S3Server> | undefined;
  return () => {
    if (!server) started.push((server = start()));
    return server;
  };
}
const servers = { s3rver: once(startS3rver), moto: once(startMoto) };
after(async () => {
  await Promise.all(started.map((s) => s.then((server) => server.stop(), () => {})));
});

/** A storage on a fresh bucket, closed after the test. */
async function openOn(t: { after(fn: () => unknown): void }, server: S3Server, changes = {}): Promise<S3Storage> {
  const storage = await S3Storage.open(settingsFor(server, changes));
  t.after(() => storage.close());
  return storage;
}

async function scratchDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spinbot-s3-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `bytes` of data that never repeats, so a lost, doubled or reordered part changes the hash. */
function distinctBytes(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let offset = 0, i = 0; offset < bytes; offset += 32, i++) createHash('sha256').update(`block ${i}`).digest().copy(out, offset);
  return out;
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;

for (const kind of ['s3rver', 'moto'] as const) {
  storageConformance(`S3 storage on ${kind}`, async () => {
    const storage = await S3Storage.open(settingsFor(await servers[kind]()));
    return { storage, close: async () => storage.close() };
  });

  test(`S3 storage on ${kind}: objects carry a content type, given or guessed from the key`, async (t) => {
    const storage = await openOn(t, await servers[kind]());
    const dir = await scratchDir(t);
    await writeFile(join(dir, 'take.bin'), 'wav bytes');
    await storage.put('jobs/j1/final.mp4', Buffer.from('mp4'));
    await storage.put('jobs/j1/subtitles.ass', Readable.from([Buffer.from('[Script Info]')]));
    await storage.put('users/discord/42/voices/anna.wav', { file: join(dir, 'take.bin') });
    await storage.put('users/discord/42/images/reference', Buffer.from('jpeg'), { contentType: 'image/jpeg' });
    await storage.put('jobs/j1/unknown', Buffer.from('?'));
    assert.equal((await storage.stat('jobs/j1/final.mp4'))?.contentType, 'video/mp4');
    assert.equal((await storage.stat('jobs/j1/subtitles.ass'))?.contentType, 'text/x-ssa');
    // Guessed from the key, not from the local file's name.
    assert.equal((await storage.stat('users/discord/42/voices/anna.wav'))?.contentType, 'audio/wav');
    assert.equal((await storage.stat('users/discord/42/images/reference'))?.contentType, 'image/jpeg');
    assert.equal((await storage.stat('jobs/j1/unknown'))?.contentType, 'application/octet-stream');
    // What a browser is told when it opens the link.
    const response = await fetch(await storage.link('jobs/j1/final.mp4'));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'video/mp4');
    assert.equal(await response.text(), 'mp4');
  });

  test(`S3 storage on ${kind}: only job intermediates carry the tag the expiry rule matches`, async (t) => {
    const storage = await openOn(t, await servers[kind]());
    const tagged = ['jobs/j1/scene-01.wav', 'jobs/j1/scene-01.png', 'jobs/j1/work/scene-01-visual.png'];
    const kept = ['jobs/j1/final.mp4', 'jobs/j1/plan.json', 'users/discord/42/voices/anna.wav'];
    for (const key of [...tagged, ...kept]) await storage.put(key, Buffer.from('x'));
    for (const key of tagged) {
      assert.deepEqual(await storage.client.getObjectTagging(storage.bucket, key), [{ Key: 'spinbot-kind', Value: 'intermediate' }], key);
    }
    for (const key of kept) assert.deepEqual(await storage.client.getObjectTagging(storage.bucket, key), [], key);
  });
}

test('S3 storage on s3rver: a presigned link downloads the object, and stops working once it expires', async (t) => {
  const server = await servers.s3rver();
  const storage = await openOn(t, server);
  await storage.put('jobs/j1/final.mp4', Buffer.from('the finished clip'));

  const link = await storage.link('jobs/j1/final.mp4', { expiresSeconds: 1 });
  assert.match(link, /X-Amz-Expires=1(&|$)/);
  const first = await fetch(link);
  assert.equal(first.status, 200);
  assert.equal(await first.text(), 'the finished clip');

  await sleep(2500); // past the link's lifetime (signatures have 1 s resolution)
  const late = await fetch(link);
  assert.equal(late.status, 403);
  assert.match(await late.text(), /expired/i);

  // Without expiresSeconds a link lives as configured (S3_LINK_EXPIRY_SECONDS).
  assert.match(await storage.link('jobs/j1/final.mp4'), /X-Amz-Expires=3600(&|$)/);
  await assert.rejects(storage.link('jobs/j1/final.mp4', { expiresSeconds: 8 * 24 * 3600 }), /7 days/);
});

test('a server without lifecycle rules (s3rver): expiring intermediates is refused with a sentence that says what to set; 0 opens it', async (t) => {
  const server = await servers.s3rver();
  const bucket = settingsFor(server).bucket;
  await assert.rejects(
    createStorage(envFor(server, bucket, { S3_INTERMEDIATE_DAYS: '7' }), { dataDir: '/nonexistent' }),
    /does not support bucket lifecycle rules.*Set S3_INTERMEDIATE_DAYS=0/,
  );
  const storage = await createStorage(envFor(server, bucket, { S3_INTERMEDIATE_DAYS: '0' }), { dataDir: '/nonexistent' });
  t.after(() => (storage as S3Storage).close());
  assert.ok(storage instanceof S3Storage);
});

test('S3 storage on s3rver: links can be signed for the public name of the endpoint', async (t) => {
  const server = await servers.s3rver();
  const publicEndpoint = server.endpoint.replace('127.0.0.1', 'localhost');
  const storage = await openOn(t, server, { publicEndpoint });
  await storage.put('jobs/j1/final.mp4', Buffer.from('clip'));
  const link = await storage.link('jobs/j1/final.mp4');
  assert.ok(link.startsWith(`${publicEndpoint}/`), link);
  const response = await fetch(link);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'clip');
});

test('S3 storage on moto: files, streams and buffers larger than the part size go up in parts and come back intact', async (t) => {
  const storage = await openOn(t, await servers.moto(), { partSizeBytes: 5 * MiB });
  const dir = await scratchDir(t);
  const data = distinctBytes(12 * MiB);
  await writeFile(join(dir, 'clip.mp4'), data);

  const fromFile = await storage.put('jobs/j1/final.mp4', { file: join(dir, 'clip.mp4') });
  assert.equal(fromFile.bytes, data.length);
  assert.equal(fromFile.contentType, 'video/mp4');
  await storage.getToFile('jobs/j1/final.mp4', join(dir, 'back.mp4'));
  assert.equal(sha256(await readFile(join(dir, 'back.mp4'))), sha256(data));

  // A stream of unknown length, in small chunks as a network download delivers it.
  const chunks = Array.from({ length: data.length / (64 * 1024) }, (_, i) => data.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
  const fromStream = await storage.put('jobs/j2/final.mp4', Readable.from(chunks));
  assert.equal(fromStream.bytes, data.length);
  assert.equal(sha256(await storage.get('jobs/j2/final.mp4')), sha256(data));

  await storage.put('jobs/j3/final.mp4', data);
  assert.equal(sha256(await storage.get('jobs/j3/final.mp4')), sha256(data));

  // A multipart object's ETag ends in -<parts>: 12 MiB in 5 MiB parts is 3.
  for (const key of ['jobs/j1/final.mp4', 'jobs/j2/final.mp4', 'jobs/j3/final.mp4']) {
    const { etag } = await storage.client.statObject(storage.bucket, key);
    assert.match(etag, /-3$/, `${key} was not uploaded in parts (ETag ${etag})`);
  }
});

test('S3 storage on moto: a stream that breaks mid-upload leaves no object and no orphaned parts', async (t) => {
  const storage = await openOn(t, await servers.moto(), { partSizeBytes: 5 * MiB });
  let sent = 0;
  const broken = new Readable({
    read() {
      if (sent >= 11 * MiB) return this.destroy(new Error('connection lost'));
      sent += MiB;
      this.push(distinctBytes(MiB));
    },
  });
  await assert.rejects(storage.put('jobs/j1/final.mp4', broken), /connection lost/);
  assert.equal(await storage.stat('jobs/j1/final.mp4'), null);
  const pending: unknown[] = [];
  for await (const upload of storage.client.listIncompleteUploads(storage.bucket, 'jobs/', true)) pending.push(upload);
  assert.deepEqual(pending, []);
});

test('S3 storage on moto: the lifecycle rule expires tagged intermediates under jobs/ and keeps other rules', async (t) => {
  const server = await servers.moto();
  const bucket = settingsFor(server).bucket;
  // The operator already has a rule of their own in the bucket.
  const operator = new Client({ endPoint: '127.0.0.1', port: Number(new URL(server.endpoint).port), useSSL: false, accessKey: server.accessKey, secretKey: server.secretKey, region: 'us-east-1' });
  await operator.makeBucket(bucket, 'us-east-1');
  await operator.setBucketLifecycle(bucket, { Rule: [{ ID: 'operator-logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } }] });

  const open = async (days: string) => {
    const storage = await createStorage(envFor(server, bucket, { S3_INTERMEDIATE_DAYS: days }), { dataDir: '/nonexistent' });
    t.after(() => (storage as S3Storage).close());
    assert.ok(storage instanceof S3Storage);
    return storage;
  };
  const ruleIds = async (storage: S3Storage) => (await storage.lifecycle()).map((r) => r.ID).sort();

  let storage = await open('3');
  const read = await operator.getBucketLifecycle(bucket); // as an operator's tool reads it back
  const rules = ([] as unknown[]).concat(read?.Rule ?? []) as Array<Record<string, any>>;
  const ours = rules.find((r) => r.ID === INTERMEDIATE_RULE_ID);
  assert.ok(ours, `no ${INTERMEDIATE_RULE_ID} rule in ${JSON.stringify(read)}`);
  assert.equal(ours.Status, 'Enabled');
  assert.equal(ours.Filter.And.Prefix, 'jobs/');
  assert.deepEqual(ours.Filter.And.Tag, { Key: 'spinbot-kind', Value: 'intermediate' });
  assert.equal(Number(ours.Expiration.Days), 3);
  assert.deepEqual(await ruleIds(storage), ['operator-logs', INTERMEDIATE_RULE_ID].sort());

  storage = await open('10'); // changed: replaced, not added twice
  const again = (await storage.lifecycle()).filter((r) => r.ID === INTERMEDIATE_RULE_ID);
  assert.equal(again.length, 1);
  assert.equal(Number(again[0]!.Expiration!.Days), 10);

  storage = await open('0'); // 0: intermediates are kept; only our rule goes
  assert.deepEqual(await ruleIds(storage), ['operator-logs']);
});

test('createStorage: files by default, S3 when S3_ENDPOINT is set, with the bucket created', async (t) => {
  const dir = await scratchDir(t);
  assert.ok((await createStorage({}, { dataDir: dir })) instanceof FsStorage);
  assert.ok((await createStorage({ S3_ENDPOINT: '  ' }, { dataDir: dir })) instanceof FsStorage);

  const server = await servers.moto();
  const bucket = `spinbot-select-${process.pid}`;
  const storage = await createStorage(envFor(server, bucket), { dataDir: dir });
  t.after(() => (storage as S3Storage).close());
  assert.ok(storage instanceof S3Storage);
  assert.equal(storage.describe(), `s3 ${server.endpoint} bucket ${bucket}`);
  assert.ok(await storage.client.bucketExists(bucket));
  // Default: intermediates expire after 7 days.
  assert.equal(Number((await storage.lifecycle()).find((r) => r.ID === INTERMEDIATE_RULE_ID)?.Expiration?.Days), 7);
});

test('createStorage: bad settings fail with one error that names every variable and never the secret', async () => {
  const env = {
    S3_ENDPOINT: 'minio:9000',
    S3_SECRET_KEY: 'hunter2-secret',
    S3_BUCKET: 'Bad_Bucket',
    S3_PART_SIZE_MB: '2',
    S3_LINK_EXPIRY_SECONDS: 'a day',
    S3_INTERMEDIATE_DAYS: '-1',
  };
  const error = await createStorage(env, { dataDir: '/tmp' }).then(
    () => assert.fail('accepted bad settings'),
    (e: Error) => e,
  );
  for (const name of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_BUCKET', 'S3_PART_SIZE_MB', 'S3_LINK_EXPIRY_SECONDS', 'S3_INTERMEDIATE_DAYS']) {
    assert.match(error.message, new RegExp(`${name} `), `${name} is not named in: ${error.message}`);
  }
  assert.doesNotMatch(error.message, /hunter2/);
  assert.doesNotMatch(JSON.stringify(error.cause), /hunter2/);
  assert.doesNotMatch(error.message, /S3_SECRET_KEY/); // it was given
});

test('storageEnvFor: the worker gets every storage variable, unset ones empty so it cannot pick another store', () => {
  const env = storageEnvFor({ S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'clips', HOME: '/root' });
  assert.deepEqual(Object.keys(env).sort(), [...STORAGE_ENV_NAMES].sort());
  assert.equal(env.S3_ENDPOINT, 'http://minio:9000');
  assert.equal(env.S3_BUCKET, 'clips');
  assert.equal(env.S3_ACCESS_KEY, '');
});
