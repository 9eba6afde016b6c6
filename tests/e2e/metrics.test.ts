// What Prometheus and a container health check see: one job rendered through the real queue and
// the real Python worker shows up in both processes' /metrics, and /healthz answers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { downloadUpload } from '../../bot/uploads/download.ts';
import { GpuQueue } from '../../gpu-bridge/producer.ts';
import { recordChatCommand, recordPlan } from '../../metrics/index.ts';
import { metricsSettings } from '../../metrics/server.ts';
import { serveStudioMetrics } from '../../metrics/studio.ts';
import { freePort, startRedis } from '../../pipeline/services.ts';
import { openStudio } from '../../pipeline/studio.ts';
import { handWrittenPlan, tempDir } from './helpers.ts';

/** Sample lines of the text format as { 'name{a="x",b="y"}': value }, labels in sorted order. */
async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${baseUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`).sort();
    samples.set(labels.length ? `${match[1]}{${labels.join(',')}}` : match[1]!, Number(match[3]));
  }
  return samples;
}

async function health(baseUrl: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('a rendered job is counted and timed in the studio\'s and the worker\'s /metrics; both /healthz answer 200', async (t) => {
  const dataDir = await tempDir(t, 'spinbot-data-');
  const workerPort = await freePort();
  const studio = await openStudio({
    dataDir,
    // Port 0: any free port; the bound address is on studio.metrics.url.
    env: { SPINBOT_METRICS_PORT: '0' },
    workerEnv: { SPINBOT_WORKER_METRICS_PORT: String(workerPort) },
  });
  t.after(() => studio.close());
  assert.ok(studio.metrics, 'SPINBOT_METRICS_PORT was set but no metrics server started');
  const studioUrl = studio.metrics.url;
  const workerUrl = `http://127.0.0.1:${workerPort}`;

  const before = await scrape(studioUrl);
  for (const status of ['queued', 'completed', 'failed', 'cancelled']) {
    assert.ok(before.has(`spinbot_jobs_total{status="${status}"}`), `spinbot_jobs_total{status="${status}"} is not exported before the first job`);
  }
  const delta = (after: Map<string, number>, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  const clip = await studio.render({ plan: handWrittenPlan(6, 2), requestedBy: { platform: 'test', userId: 'metrics' } });
  assert.ok(clip.bytes > 0);

  const studioAfter = await scrape(studioUrl);
  assert.equal(delta(studioAfter, 'spinbot_jobs_total{status="queued"}'), 1);
  assert.equal(delta(studioAfter, 'spinbot_jobs_total{status="completed"}'), 1);
  assert.equal(delta(studioAfter, 'spinbot_jobs_total{status="failed"}'), 0);
  assert.equal(delta(studioAfter, 'spinbot_stage_duration_seconds_count{backend="ffmpeg",stage="assemble"}'), 1);
  assert.ok(delta(studioAfter, 'spinbot_stage_duration_seconds_sum{backend="ffmpeg",stage="assemble"}') > 0, 'assembly took no time?');
  assert.equal(delta(studioAfter, 'spinbot_queue_wait_seconds_count'), 1);
  // Read from Redis at the scrape: the job is done, so nothing waits or runs.
  for (const state of ['waiting', 'active', 'delayed', 'failed']) {
    assert.equal(studioAfter.get(`spinbot_queue_depth{state="${state}"}`), 0, `spinbot_queue_depth{state="${state}"}`);
  }
  assert.ok(studioAfter.has('spinbot_process_resident_memory_bytes'), 'the process metrics are missing');
  for (const name of studioAfter.keys()) assert.match(name, /^spinbot_/);

  const worker = await scrape(workerUrl);
  assert.equal(worker.get('spinbot_worker_jobs_total{status="completed"}'), 1);
  assert.equal(worker.get('spinbot_worker_jobs_total{status="failed"}'), 0);
  assert.equal(worker.get('spinbot_stage_duration_seconds_count{backend="piper",stage="tts"}'), 1);
  assert.equal(worker.get('spinbot_stage_duration_seconds_count{backend="title-card",stage="visuals"}'), 1);
  assert.equal(worker.get('spinbot_stage_duration_seconds_count{backend="realesrgan",stage="upscale"}'), 1);
  for (const name of worker.keys()) assert.match(name, /^spinbot_/);

  assert.deepEqual(await health(studioUrl), { status: 200, body: { ok: true, redis: 'ok' } });
  const workerHealth = await health(workerUrl);
  assert.equal(workerHealth.status, 200, JSON.stringify(workerHealth.body));
  assert.equal(workerHealth.body.consuming, true);
});

test('the chat, planning and upload recorders show up under their names and labels', async (t) => {
  const redis = await startRedis();
  const queue = new GpuQueue(redis.url);
  const server = await serveStudioMetrics({ port: 0, host: '127.0.0.1' }, queue);
  // Metrics server and queue connections before Redis: closing them after it is gone would wait forever.
  t.after(async () => {
    await server?.close();
    await queue.close();
    await redis.stop();
  });
  await queue.ready();
  assert.ok(server);

  recordChatCommand('discord', 'generate', 0.4);
  recordPlan('ollama', 'invalid', 7.5);
  const dir = await mkdtemp(join(tmpdir(), 'spinbot-upload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const policy = { allowedHosts: ['cdn.discordapp.com'], maxBytes: 1000 };
  await assert.rejects(downloadUpload({ url: 'http://169.254.169.254/latest/meta-data' }, join(dir, 'a'), policy), { id: 'upload.forbiddenHost' });
  await assert.rejects(downloadUpload({ url: 'https://cdn.discordapp.com/x.ogg', declaredBytes: 5000 }, join(dir, 'b'), policy), { id: 'upload.tooLarge' });

  const got = await scrape(server.url);
  assert.equal(got.get('spinbot_chat_command_duration_seconds_count{command="generate",platform="discord"}'), 1);
  assert.equal(got.get('spinbot_chat_command_duration_seconds_bucket{command="generate",le="0.5",platform="discord"}'), 1);
  assert.equal(got.get('spinbot_plan_duration_seconds_count{outcome="invalid",provider="ollama"}'), 1);
  assert.equal(got.get('spinbot_upload_rejections_total{reason="forbidden_host"}'), 1);
  assert.equal(got.get('spinbot_upload_rejections_total{reason="too_large"}'), 1);
  assert.equal(got.get('spinbot_upload_rejections_total{reason="unsupported"}'), 0);
});

test('/healthz is 503 while Redis does not answer, and 200 again once it does', async (t) => {
  const redis = await startRedis();
  const queue = new GpuQueue(redis.url);
  const server = await serveStudioMetrics({ port: 0, host: '127.0.0.1' }, queue);
  t.after(async () => {
    redis.process?.kill('SIGCONT'); // a stopped Redis would leave the closes below waiting forever
    await server?.close();
    await queue.close();
    await redis.stop();
  });
  await queue.ready();
  assert.ok(server);
  assert.equal((await health(server.url)).status, 200);

  // Redis stops answering (stuck, as on a full disk or a swapping host) while connections stay open.
  redis.process!.kill('SIGSTOP');
  const stuck = await health(server.url);
  assert.equal(stuck.status, 503);
  assert.equal(stuck.body.ok, false);
  assert.match(String(stuck.body.redis), /no answer/);
  // Queue depth is left out rather than shown stale, and the scrape itself still succeeds.
  assert.ok(![...(await scrape(server.url)).keys()].some((k) => k.startsWith('spinbot_queue_depth')));
  redis.process!.kill('SIGCONT');
  assert.deepEqual(await health(server.url), { status: 200, body: { ok: true, redis: 'ok' } });
});

test('a bad SPINBOT_METRICS_PORT is refused before anything starts', () => {
  assert.equal(metricsSettings({}), null);
  assert.deepEqual(metricsSettings({ SPINBOT_METRICS_PORT: '9464' }), { port: 9464, host: '127.0.0.1' });
  assert.deepEqual(metricsSettings({ SPINBOT_METRICS_PORT: '9464', SPINBOT_METRICS_HOST: '0.0.0.0' }), { port: 9464, host: '0.0.0.0' });
  for (const bad of ['http', '70000', '-1', '94.64']) {
    assert.throws(() => metricsSettings({ SPINBOT_METRICS_PORT: bad }), /SPINBOT_METRICS_PORT must be a port number/);
  }
});
