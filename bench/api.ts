// The HTTP API under load, on a real studio (redis, the Python worker, ffmpeg):
//  1. SSE fan-out: 100 listeners follow one video's event stream while it renders; how far apart
//     the listeners get each event (first to last), whether all of them see every event and the end,
//     and the render's wall time against the same render followed by one listener.
//  2. GET /v1/videos/{id} on a finished video: requests per second and latency at a fixed concurrency.
// The clients run in a worker thread (their own event loop) and talk real HTTP over loopback.
//   npm run bench:api            (--listeners N, --concurrency N, --seconds N)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { parseApiKeys } from '../api/config.ts';
import { startApiServer } from '../api/server.ts';
import { loadConfig } from '../bot/config.ts';
import { createPlanner } from '../bot/planner.ts';
import { openStudio } from '../pipeline/studio.ts';
import { handWrittenPlan } from '../tests/e2e/helpers.ts';

const { values } = parseArgs({
  options: { listeners: { type: 'string', default: '100' }, concurrency: { type: 'string', default: '16' }, seconds: { type: 'string', default: '10' } },
});
const KEY = 'bench-key-0123456789abcdef';

// Runs in the worker thread: plain JavaScript over the built-in fetch.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, key, task } = workerData;
const headers = { authorization: 'Bearer ' + key };
async function follow(path) {
  const arrivals = [];
  const response = await fetch(url + path, { headers });
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\\n\\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1];
      if (name) arrivals.push({ name, at: performance.now() + performance.timeOrigin });
    }
  }
  return arrivals;
}
async function hammer(path, concurrency, seconds) {
  const latencies = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const start = performance.now();
      const response = await fetch(url + path, { headers });
      await response.arrayBuffer();
      if (response.status !== 200) errors++;
      latencies.push(performance.now() - start);
    }
  }));
  return { latencies, errors, seconds };
}
(async () => {
  if (task.kind === 'follow') {
    parentPort.postMessage({ ready: true });
    parentPort.postMessage({ result: await Promise.all(Array.from({ length: task.listeners }, () => follow(task.path))) });
  } else {
    parentPort.postMessage({ result: await hammer(task.path, task.concurrency, task.seconds) });
  }
})();
`;

function client<T>(url: string, task: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CLIENT, { eval: true, workerData: { url, key: KEY, task } });
    worker.on('message', (message: { result?: T }) => {
      if (message.result !== undefined) {
        resolve(message.result);
        void worker.terminate();
      }
    });
    worker.on('error', reject);
  });
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

const dataDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-api-'));
const studio = await openStudio({ dataDir, env: { ...process.env, SPINBOT_METRICS_PORT: '' } });
const api = await startApiServer(
  // The planner is never asked: the bench posts plans (rendering is what it loads).
  { studio, planner: createPlanner(loadConfig()), config: { SPINBOT_MAX_RUNNING_JOBS: '0', SPINBOT_DAILY_JOBS: '0' }, log: () => {} },
  { port: 0, host: '127.0.0.1', keys: parseApiKeys(`bench:${KEY}`, 'bench keys') },
);
const post = async (body: unknown) => {
  const response = await fetch(`${api.url}/v1/videos`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`POST /v1/videos: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string };
};

try {
  const plan = handWrittenPlan(10, 2);
  const renders: Record<number, number> = {};
  let spread: number[] = [];
  let complete = 0;
  let perListener = 0;
  for (const listeners of [1, Number(values.listeners)]) {
    const started = performance.now();
    const { id } = await post({ plan });
    const arrivals = await client<Array<Array<{ name: string; at: number }>>>(api.url, { kind: 'follow', path: `/v1/videos/${id}/events`, listeners });
    renders[listeners] = (performance.now() - started) / 1000;
    if (listeners === 1) continue;
    complete = arrivals.filter((a) => a.at(-1)?.name === 'done').length;
    // Events every listener saw (those joining late miss early progress); each one's spread across listeners.
    const shortest = Math.min(...arrivals.map((a) => a.length));
    perListener = shortest;
    spread = [];
    for (let k = 0; k < shortest; k++) {
      const times = arrivals.map((a) => a[a.length - shortest + k]!.at);
      spread.push(Math.max(...times) - Math.min(...times));
    }
  }
  console.log(`SSE fan-out: ${values.listeners} listeners on one video; ${complete}/${values.listeners} saw "done"; ${perListener} events each (the last ${perListener} compared)`);
  console.log(`  first-to-last listener spread per event: p50 ${ms(percentile(spread, 50))}, p95 ${ms(percentile(spread, 95))}, max ${ms(Math.max(...spread))}`);
  console.log(`  render wall time (10 s, 2-scene clip): ${renders[1]!.toFixed(1)} s with 1 listener, ${renders[Number(values.listeners)]!.toFixed(1)} s with ${values.listeners}`);

  const { id } = await post({ plan: handWrittenPlan(6, 2) });
  await client(api.url, { kind: 'follow', path: `/v1/videos/${id}/events`, listeners: 1 });
  const load = await client<{ latencies: number[]; errors: number; seconds: number }>(api.url, {
    kind: 'hammer',
    path: `/v1/videos/${id}`,
    concurrency: Number(values.concurrency),
    seconds: Number(values.seconds),
  });
  const rate = load.latencies.length / load.seconds;
  console.log(
    `GET /v1/videos/{id} (a finished video, ${values.concurrency} concurrent, ${values.seconds} s): ${Math.round(rate)} requests/s, ` +
      `p50 ${ms(percentile(load.latencies, 50))}, p99 ${ms(percentile(load.latencies, 99))}, ${load.errors} non-200`,
  );
} finally {
  await api.stop();
  await studio.close();
  await rm(dataDir, { recursive: true, force: true });
}
