// The production stack, checked without a Docker engine: dclint (lint + the compose-spec schema),
// what an operator relies on in docker-compose.yml (pinned images, restarts, healthchecks, GPU
// reservations, wiring), the monitoring files, minio-init's script, and that .env.example
// documents every variable the code reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
// `yaml` is dclint's own dependency (and what it parses compose files with).
import { parse as parseYaml } from 'yaml';
import { loadApiSettings } from '../../api/config.ts';
import { INTERMEDIATE_TAG } from '../../storage/keys.ts';
import { INTERMEDIATE_RULE_ID } from '../../storage/s3.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Dict = Record<string, unknown>;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  environment?: Record<string, string> | string[];
  ports?: Array<string | Dict>;
  restart?: string;
  command?: string | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; count?: number | string; capabilities?: string[] }> } } };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const loadCompose = (file: string) => parseYaml(read(file), { merge: true }) as Compose;
const compose = loadCompose('docker-compose.yml');
const services = compose.services;
/** A GPU worker on another host (README: "Run on a GPU workstation"). */
const WORKER_HOST = 'deploy/worker-host.compose.yml';
const workerHost = loadCompose(WORKER_HOST);

/** One-shot services run to completion; others wait for them with service_completed_successfully. */
const ONE_SHOT = new Set(['minio-init', 'ollama-pull']);
/** Services that must see an NVIDIA GPU. */
const GPU_SERVICES = ['worker', 'comfyui'];

function env(service: string, stack: Compose = compose): Record<string, string> {
  const e = stack.services[service]?.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/**
 * A value as Compose interpolates it from the operator's environment (.env): ${VAR}, ${VAR:-default},
 * ${VAR:+replacement} and ${VAR:?error} (which throws its message).
 */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:[-+?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const set = Boolean(vars[name]);
    if (op === ':-') return set ? vars[name]! : arg;
    if (op === ':+') return set ? arg : '';
    if (op === ':?' && !set) throw new Error(arg);
    return vars[name] ?? '';
  });
}

function dependsOn(service: Service): Record<string, string> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition ?? 'service_started']));
}

interface DclintMessage { rule: string; type: string; message: string; line: number }
function dclint(file: string): { status: number | null; messages: DclintMessage[] } {
  const bin = join(ROOT, 'node_modules', 'dclint', 'bin', 'dclint.cjs');
  const run = spawnSync(process.execPath, [bin, file, '--formatter', 'json'], { cwd: ROOT, encoding: 'utf8' });
  assert.ok(run.stdout.trim().startsWith('['), `dclint printed no report: ${run.stderr || run.stdout}`);
  const report = JSON.parse(run.stdout) as Array<{ messages: DclintMessage[] }>;
  return { status: run.status, messages: report.flatMap((r) => r.messages) };
}

// ---- checks shared by both compose files ----

const FLOATING_TAG = /^(latest|stable|edge|main|master|nightly|dev|beta|canary|lts)$/;

function assertPinnedImages(file: string, stack: Compose): void {
  for (const [name, s] of Object.entries(stack.services)) {
    if (s.image) {
      const tag = /^(?:.*\/)?[^/:@]+(?::([^@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(s.image)?.[1];
      assert.ok(tag && !FLOATING_TAG.test(tag) && !tag.includes('$'), `${file} ${name}: image ${s.image} has no fixed tag`);
      continue;
    }
    assert.ok(s.build, `${file} ${name}: neither image nor build`);
    const build = typeof s.build === 'string' ? { context: s.build } : s.build!;
    // Compose resolves the context against the compose file's folder.
    const dockerfile = join(ROOT, dirname(file), build.context ?? '.', build.dockerfile ?? 'Dockerfile');
    assert.ok(existsSync(dockerfile), `${file} ${name}: ${relative(ROOT, dockerfile)} does not exist`);
    const froms = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
    assert.ok(froms.length > 0, `${name}: no FROM in ${dockerfile}`);
    for (const from of froms) {
      const tag = /:([^:/@]+)$/.exec(from)?.[1];
      assert.ok(tag && !FLOATING_TAG.test(tag), `${name}: base image ${from} has no fixed tag`);
    }
  }
}

function assertRestartAndHealth(file: string, stack: Compose): void {
  for (const [name, s] of Object.entries(stack.services)) {
    if (ONE_SHOT.has(name)) {
      assert.equal(s.restart, 'no', `${name} is one-shot: restart "no"`);
      continue;
    }
    assert.match(s.restart ?? '', /^(unless-stopped|always|on-failure(:\d+)?)$/, `${file} ${name}: no restart policy`);
    const check = s.healthcheck?.test;
    assert.ok(Array.isArray(check) && /^(CMD|CMD-SHELL)$/.test(check[0]!) && check.length > 1 && !s.healthcheck?.disable, `${file} ${name}: no healthcheck`);
  }
}

function assertGpuReservations(file: string, stack: Compose): void {
  for (const name of GPU_SERVICES) {
    const devices = stack.services[name]?.deploy?.resources?.reservations?.devices ?? [];
    const gpu = devices.find((d) => d.driver === 'nvidia' && d.capabilities?.includes('gpu'));
    assert.ok(gpu, `${file} ${name}: no deploy.resources.reservations.devices entry with driver nvidia and capabilities [gpu]`);
    assert.ok(gpu.count === 1 || gpu.count === 'all', `${file} ${name}: GPU count ${String(gpu.count)}`);
  }
}

function assertNamedVolumes(file: string, stack: Compose): void {
  const declared = Object.keys(stack.volumes ?? {});
  const used = new Set<string>();
  for (const [name, s] of Object.entries(stack.services)) {
    for (const v of s.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
      if (/^[./$~]/.test(source)) continue; // a host path (configuration files, model weights)
      assert.ok(declared.includes(source), `${file} ${name}: volume ${source} is not declared under volumes:`);
      used.add(source);
    }
  }
  assert.deepEqual(declared.filter((v) => !used.has(v)), [], `${file}: declared volumes nobody mounts`);
}

function assertBoundPorts(file: string, stack: Compose, publicServices: string[]): void {
  for (const [name, s] of Object.entries(stack.services)) {
    for (const p of s.ports ?? []) {
      assert.equal(typeof p, 'string', `${file} ${name}: use the short "address:host:container" form`);
      const host = /^(\$\{SPINBOT_BIND_ADDR:-127\.0\.0\.1\}|127\.0\.0\.1|0\.0\.0\.0):/.exec(p as string)?.[1];
      assert.ok(host, `${file} ${name}: port ${String(p)} is not bound to an explicit address`);
      if (host === '0.0.0.0') assert.ok(publicServices.includes(name), `${file} ${name}: only ${publicServices.join(', ') || 'nothing'} may listen on every interface`);
    }
  }
}

describe('compose files: dclint and the compose specification', () => {
  for (const file of ['docker-compose.yml', WORKER_HOST]) {
    test(`${file}: dclint finds no errors (its schema check is the compose-spec JSON schema)`, (t) => {
      const { status, messages } = dclint(file);
      const errors = messages.filter((m) => m.type === 'error');
      for (const w of messages.filter((m) => m.type !== 'error')) t.diagnostic(`dclint warning, line ${w.line}: ${w.message} (${w.rule})`);
      assert.deepEqual(errors.map((m) => `line ${m.line}: ${m.message} (${m.rule})`), []);
      assert.equal(status, 0);
    });
  }

  test('the lint gate fails on what an operator would trip over: a mistyped key, a floating tag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spinbot-compose-'));
    try {
      const typo = join(dir, 'typo.yml');
      writeFileSync(typo, read('docker-compose.yml').replace('    healthcheck:\n', '    healtcheck:\n'));
      const schema = dclint(typo);
      assert.notEqual(schema.status, 0);
      assert.ok(schema.messages.some((m) => m.rule === 'invalid-schema'), JSON.stringify(schema.messages));

      const floating = join(dir, 'floating.yml');
      writeFileSync(floating, read('docker-compose.yml').replace(/image: redis:\S+/, 'image: redis:latest'));
      const tag = dclint(floating);
      assert.notEqual(tag.status, 0);
      assert.ok(tag.messages.some((m) => m.rule === 'service-image-require-explicit-tag'), JSON.stringify(tag.messages));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml: what the stack promises', () => {
  test('every service the README names exists, and the README names every service', () => {
    const readme = read('README.md');
    const start = readme.indexOf('## Run on a GPU workstation');
    assert.ok(start >= 0, 'README.md has no "## Run on a GPU workstation" section');
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const named = [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]!);
    assert.ok(named.length >= 10, `the section's service table lists only ${named.length} services`);
    assert.deepEqual(named.filter((n) => !(n in services)), [], 'named in the README but missing from docker-compose.yml');
    assert.deepEqual(Object.keys(services).filter((n) => !named.includes(n)), [], 'in docker-compose.yml but not in the README table');
    assert.ok(section.includes(WORKER_HOST), `the section does not explain ${WORKER_HOST}`);
  });

  test('every image is pinned to a release tag, or built from a Dockerfile whose FROM is pinned', () => {
    assertPinnedImages('docker-compose.yml', compose);
  });

  test('long-running services restart and have a healthcheck; one-shot services run once', () => {
    assertRestartAndHealth('docker-compose.yml', compose);
  });

  test('depends_on always names a condition that the dependency can meet', () => {
    for (const [name, s] of Object.entries(services)) {
      if (Array.isArray(s.depends_on)) assert.fail(`${name}: depends_on without conditions starts too early`);
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        assert.ok(services[dep], `${name} depends on unknown service ${dep}`);
        if (condition === 'service_healthy') assert.ok(services[dep]!.healthcheck, `${name} waits for ${dep} to be healthy, but it has no healthcheck`);
        if (condition === 'service_completed_successfully') assert.ok(ONE_SHOT.has(dep), `${name} waits for ${dep} to complete, but it never exits`);
        if (ONE_SHOT.has(dep)) assert.equal(condition, 'service_completed_successfully', `${name} must wait for one-shot ${dep} to finish`);
      }
    }
    // The bot needs its bucket and its planning model before it can serve a chat.
    assert.equal(dependsOn(services.bot!)['minio-init'], 'service_completed_successfully');
    assert.equal(dependsOn(services.bot!)['ollama-pull'], 'service_completed_successfully');
    assert.equal(dependsOn(services.worker!).redis, 'service_healthy');
  });

  test('the worker and ComfyUI reserve an NVIDIA GPU', () => {
    assertGpuReservations('docker-compose.yml', compose);
  });

  test('state lives in named volumes that are declared, and every declared volume is used', () => {
    assertNamedVolumes('docker-compose.yml', compose);
    for (const [name, path] of [['redis', '/data'], ['minio', '/data'], ['ollama', '/root/.ollama'], ['prometheus', '/prometheus'], ['grafana', '/var/lib/grafana']] as const) {
      assert.ok((services[name]!.volumes ?? []).some((v) => typeof v === 'string' && /^[a-z]/.test(v) && v.endsWith(`:${path}`)), `${name}: ${path} is not on a named volume`);
    }
    assert.match(JSON.stringify(services.redis!.command), /--appendonly yes/, 'redis without AOF loses queued jobs on restart');
  });

  test('published ports name their interface; only traefik listens on every interface', () => {
    assertBoundPorts('docker-compose.yml', compose, ['traefik']);
    assert.deepEqual(services.traefik?.profiles, ['proxy']);
    for (const [name, s] of Object.entries(services)) if (name !== 'traefik') assert.equal(s.profiles, undefined, `${name} must start with a plain \`docker compose up -d\``);
  });

  test('the bot serves the HTTP API on the host\'s loopback at SPINBOT_API_PORT, with the keys from .env; unset, no API', () => {
    const operator = { REDIS_PASSWORD: 'r', S3_SECRET_KEY: 's', SPINBOT_API_PORT: '8081', SPINBOT_API_KEYS: 'alice:0123456789abcdef0123' };
    const botEnv = (vars: Record<string, string>) => Object.fromEntries(Object.entries(env('bot')).map(([k, v]) => [k, interpolate(v, vars)]));
    const api = loadApiSettings(botEnv(operator));
    assert.ok(api, 'SPINBOT_API_PORT set in .env, but the bot would start no API');
    // Inside the container it listens on every interface (the published port reaches it), at a fixed port.
    assert.equal(api.host, '0.0.0.0');
    assert.deepEqual(api.keys.owners, ['alice']);
    assert.equal(api.keys.ownerOf('0123456789abcdef0123'), 'alice');
    const published = (services.bot!.ports ?? []).map((p) => interpolate(String(p), operator));
    assert.deepEqual(published, [`127.0.0.1:8081:${api.port}`], 'the API is published on the host loopback at SPINBOT_API_PORT');

    const { SPINBOT_API_PORT: _port, SPINBOT_API_KEYS: _keys, ...withoutApi } = operator;
    assert.equal(loadApiSettings(botEnv(withoutApi)), null, 'without SPINBOT_API_PORT the bot must not serve the API');
    assert.throws(() => loadApiSettings(botEnv({ ...withoutApi, SPINBOT_API_PORT: '8081' })), /no keys are: set SPINBOT_API_KEYS/);
    // Keys are never written into the stack or its example: only the operator's .env holds them.
    assert.match(env('bot').SPINBOT_API_KEYS ?? '', /^\$\{SPINBOT_API_KEYS(:-)?\}$/);
    assert.match(read('.env.example'), /^SPINBOT_API_KEYS=$/m);
  });

  test('bot and worker are wired to redis, minio and (bot) ollama, with their metrics ports', () => {
    for (const name of ['bot', 'worker']) {
      const e = env(name);
      assert.match(e.REDIS_URL ?? '', /^redis:\/\/:\$\{REDIS_PASSWORD[^}]*\}@redis:6379$/, `${name}: REDIS_URL`);
      assert.equal(e.S3_ENDPOINT, 'http://minio:9000', `${name}: S3_ENDPOINT`);
      for (const v of ['S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET', 'S3_REGION', 'S3_INTERMEDIATE_DAYS']) assert.ok(e[v], `${name}: ${v} not set`);
      // The bucket and key the bot and worker use are the ones minio-init creates.
      for (const v of ['S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET', 'S3_INTERMEDIATE_DAYS']) assert.equal(e[v], env('minio-init')[v], `${name}: ${v} differs from minio-init's`);
    }
    assert.equal(env('bot').OLLAMA_BASE_URL, 'http://ollama:11434');
    assert.equal(env('bot').OLLAMA_MODEL, env('ollama-pull').OLLAMA_MODEL, 'the bot plans with the model ollama-pull fetched');
    for (const [name, variable] of [['bot', 'SPINBOT_METRICS_PORT'], ['worker', 'SPINBOT_WORKER_METRICS_PORT']] as const) {
      const port = env(name)[variable];
      assert.match(port ?? '', /^\d+$/, `${name}: ${variable} must be a fixed port (prometheus.yml names it)`);
      // The default, 127.0.0.1, is unreachable from the prometheus container.
      assert.equal(env(name).SPINBOT_METRICS_HOST, '0.0.0.0', `${name}: SPINBOT_METRICS_HOST`);
      assert.ok(JSON.stringify(services[name]!.healthcheck?.test).includes(`:${port}/healthz`), `${name}: healthcheck does not probe :${port}/healthz`);
    }
  });
});

describe(`${WORKER_HOST}: a GPU worker on another host`, () => {
  test('pinned builds, restarts, healthchecks, GPU reservations, declared volumes, bound ports', () => {
    assertPinnedImages(WORKER_HOST, workerHost);
    assertRestartAndHealth(WORKER_HOST, workerHost);
    assertGpuReservations(WORKER_HOST, workerHost);
    assertNamedVolumes(WORKER_HOST, workerHost);
    assertBoundPorts(WORKER_HOST, workerHost, []);
  });

  test('joins the queue and storage of the main host the way the main worker does', () => {
    const remote = env('worker', workerHost);
    const local = env('worker');
    assert.equal(remote.REDIS_URL, local.REDIS_URL!.replace('@redis:', `@${/\$\{SPINBOT_MAIN_HOST[^}]*\}/.exec(remote.REDIS_URL ?? '')?.[0]}:`));
    assert.match(remote.S3_ENDPOINT ?? '', /^http:\/\/\$\{SPINBOT_MAIN_HOST[^}]*\}:9000$/);
    for (const v of ['S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET', 'S3_REGION', 'S3_INTERMEDIATE_DAYS', 'SPINBOT_WORKER_METRICS_PORT', 'SPINBOT_METRICS_HOST', 'COMFYUI_URL', 'SPINBOT_MODELS_DIR']) {
      assert.equal(remote[v], local[v], `${v} differs from the main stack's worker`);
    }
    assert.deepEqual(workerHost.services.worker!.healthcheck, services.worker!.healthcheck);
    assert.deepEqual(workerHost.services.comfyui!.healthcheck, services.comfyui!.healthcheck);
  });
});

describe('monitoring: prometheus, grafana, traefik', () => {
  interface ScrapeConfig { job_name: string; static_configs: Array<{ targets: string[] }> }
  const prometheus = parseYaml(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: ScrapeConfig[] };
  const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));

  test('prometheus.yml parses and scrapes the bot, the worker and the DCGM exporter on the ports compose sets', () => {
    assert.ok(targets.includes(`bot:${env('bot').SPINBOT_METRICS_PORT}`), `targets: ${targets.join(', ')}`);
    assert.ok(targets.includes(`worker:${env('worker').SPINBOT_WORKER_METRICS_PORT}`), `targets: ${targets.join(', ')}`);
    assert.ok(targets.includes('dcgm-exporter:9400'), `targets: ${targets.join(', ')}`);
    for (const target of targets) {
      const host = target.split(':')[0]!;
      assert.ok(host === 'localhost' || host in services, `prometheus scrapes ${target}, which is not a compose service`);
    }
    const mount = (services.prometheus!.volumes ?? []).find((v) => typeof v === 'string' && v.startsWith('./deploy/prometheus/prometheus.yml:'));
    assert.ok(mount, 'compose does not mount deploy/prometheus/prometheus.yml');
  });

  const DASHBOARD_DIR = 'deploy/grafana/dashboards';
  interface Panel { id: number; type: string; title: string; datasource?: { uid?: string }; targets?: Array<{ expr: string; datasource?: { uid?: string } }> }
  const dashboards = readdirSync(join(ROOT, DASHBOARD_DIR)).filter((f) => f.endsWith('.json')).map((f) => ({ file: f, json: JSON.parse(read(join(DASHBOARD_DIR, f))) as { uid: string; title: string; panels: Panel[] } }));
  const overview = dashboards.find((d) => d.json.title === 'MySpinBot overview');
  const exprs = (overview?.json.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  test('Grafana provisioning: the datasource the dashboards use, and the folder compose mounts', () => {
    const ds = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    const prom = ds.datasources.find((d) => d.type === 'prometheus');
    assert.ok(prom, 'no prometheus datasource');
    assert.equal(prom.url, 'http://prometheus:9090');
    const providers = parseYaml(read('deploy/grafana/provisioning/dashboards/spinbot.yml')) as { providers: Array<{ options: { path: string } }> };
    const path = providers.providers[0]!.options.path;
    const mounts = (services.grafana!.volumes ?? []).filter((v): v is string => typeof v === 'string');
    assert.ok(mounts.includes(`./${DASHBOARD_DIR}:${path}:ro`), `grafana does not mount ${DASHBOARD_DIR} at ${path}`);
    assert.ok(mounts.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
    for (const { file, json } of dashboards) {
      for (const p of json.panels.filter((p) => p.type !== 'row')) {
        for (const uid of [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]) assert.equal(uid, prom.uid, `${file}: panel "${p.title}" uses datasource ${uid}`);
      }
    }
  });

  test('the "MySpinBot overview" dashboard has a panel for each figure an operator watches', () => {
    assert.ok(overview, `no dashboard titled "MySpinBot overview" in ${DASHBOARD_DIR}`);
    const ids = overview.json.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
    const expected = [
      'DCGM_FI_DEV_GPU_UTIL',
      'DCGM_FI_DEV_FB_USED',
      'spinbot_jobs_total',
      'spinbot_stage_duration_seconds_bucket',
      'spinbot_queue_depth',
      'spinbot_queue_wait_seconds_bucket',
      'spinbot_chat_command_duration_seconds_bucket',
      'spinbot_upload_rejections_total',
      'spinbot_plan_duration_seconds_bucket',
      'spinbot_worker_gpu_memory_bytes',
    ];
    for (const metric of expected) assert.ok(exprs.some((e) => new RegExp(`\\b${metric}\\b`).test(e)), `no panel queries ${metric}`);
    assert.ok(exprs.some((e) => /by \(status\)[^]*spinbot_jobs_total/.test(e)), 'jobs are not split by status');
    assert.ok(exprs.some((e) => /by \(le, stage, backend\)[^]*spinbot_stage_duration_seconds_bucket/.test(e)), 'stage durations are not split by stage and backend');
  });

  test('every spinbot_ metric the dashboard queries is one the code defines', () => {
    const defined = definedMetrics();
    // The scanner itself must work: metrics the code is known to define (in TS and in the worker)
    // are found, so an empty or broken scan fails here instead of passing with nothing compared.
    for (const known of ['spinbot_jobs_total', 'spinbot_upload_rejections_total', 'spinbot_worker_active_jobs', 'spinbot_worker_gpu_memory_bytes']) {
      assert.ok(defined.has(known), `the metric scanner did not find ${known}; it found: ${[...defined].sort().join(', ') || 'nothing'}`);
    }
    const queried = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(spinbot_[a-z0-9_]+)/g)].map((m) => m[1]!)));
    const unknown = [...queried].filter((m) => ![m, m.replace(/_(bucket|sum|count)$/, ''), m.replace(/_total$/, '')].some((base) => defined.has(base)));
    assert.deepEqual(unknown, [], `defined: ${[...defined].sort().join(', ')}`);
  });

  test('traefik routes Grafana, the MinIO console and the HTTP API to compose services', () => {
    const dynamic = parseYaml(read('deploy/traefik/dynamic.yml')) as { http: { routers: Record<string, { rule: string; service: string; tls?: { certResolver?: string } }>; services: Record<string, { loadBalancer: { servers: Array<{ url: string }> } }> } };
    const upstreams = Object.values(dynamic.http.routers).map((r) => {
      assert.match(r.rule, /Host\(`[a-z0-9-]+\.\{\{ env "SPINBOT_DOMAIN" \}\}`\)/);
      assert.equal(r.tls?.certResolver, 'le');
      const service = dynamic.http.services[r.service];
      assert.ok(service, `router to unknown service ${r.service}`);
      return service.loadBalancer.servers[0]!.url;
    });
    assert.ok(upstreams.includes('http://grafana:3000'));
    assert.ok(upstreams.includes('http://minio:9001'));
    // The API's port inside the bot container, the one docker-compose.yml publishes.
    const apiPort = /:(\d+)$/.exec(String(services.bot!.ports?.[0]))?.[1];
    assert.ok(upstreams.includes(`http://bot:${apiPort}`), `no route to the bot's API on port ${apiPort}`);
    for (const url of upstreams) assert.ok(new URL(url).hostname in services, `${url} is not a compose service`);
    assert.ok(JSON.stringify(services.traefik!.command).includes('--certificatesresolvers.le.'), 'the "le" resolver is not configured');
  });
});

/** Metric names that prom-client (TS) and prometheus_client (Python) define in the code. */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  const files = [...sourceFiles(['metrics', 'bot', 'pipeline', 'gpu-bridge'], /\.ts$/), ...sourceFiles(['gpu-bridge/worker/spinbot_worker'], /\.py$/)];
  for (const file of files) {
    const text = read(file);
    for (const m of text.matchAll(/\bname:\s*['"](spinbot_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
    for (const m of text.matchAll(/\b(?:Counter|Gauge|Histogram|Summary|Info|Enum)(?:MetricFamily)?\(\s*['"](spinbot_[a-z0-9_]+)['"]/g)) names.add(m[1]!);
  }
  // prometheus_client appends _total to counters.
  for (const n of [...names]) names.add(`${n}_total`);
  return names;
}

describe('minio-init (deploy/minio/init.sh)', () => {
  /** Runs the script with a fake `mc` that records its calls; returns the calls and what it was fed. */
  function runInit(overrides: Record<string, string>, fake = '') {
    const dir = mkdtempSync(join(tmpdir(), 'spinbot-minio-init-'));
    const mc = join(dir, 'mc');
    writeFileSync(
      mc,
      `#!/bin/sh\necho "$*" >> "${dir}/calls"\n` +
        `case "$*" in *"ilm import"*) cat > "${dir}/lifecycle.json" ;; *"admin policy create"*) cat "$6" > "${dir}/policy.json" ;; esac\n${fake}\nexit 0\n`,
    );
    chmodSync(mc, 0o755);
    const run = spawnSync('sh', [join(ROOT, 'deploy/minio/init.sh')], {
      encoding: 'utf8',
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        MINIO_ROOT_USER: 'spinbot-admin',
        MINIO_ROOT_PASSWORD: 'root-password-123',
        S3_ACCESS_KEY: 'spinbot',
        S3_SECRET_KEY: 'bot-secret-456',
        S3_BUCKET: 'spinbot',
        S3_INTERMEDIATE_DAYS: '7',
        ...overrides,
      },
    });
    const file = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
    const result = { status: run.status, stderr: run.stderr, calls: file('calls').trim().split('\n').filter(Boolean), lifecycle: file('lifecycle.json'), policy: file('policy.json') };
    rmSync(dir, { recursive: true, force: true });
    return result;
  }

  test('creates the private bucket, a key limited to it, and the same expiry rule the bot installs', () => {
    const r = runInit({ S3_INTERMEDIATE_DAYS: '3' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.includes('mb --ignore-existing local/spinbot'), r.calls.join('\n'));
    assert.ok(r.calls.includes('anonymous set private local/spinbot'));
    assert.ok(r.calls.includes('admin user add local spinbot bot-secret-456'));
    assert.ok(r.calls.includes('admin policy attach local spinbot-bucket --user spinbot'));
    const policy = JSON.parse(r.policy) as { Statement: Array<{ Resource: string[] }> };
    assert.deepEqual(policy.Statement[0]!.Resource, ['arn:aws:s3:::spinbot', 'arn:aws:s3:::spinbot/*']);
    const rule = (JSON.parse(r.lifecycle) as { Rules: Array<Dict> }).Rules[0]!;
    // Same ID and filter as storage/s3.ts, so the bot recognises this rule instead of adding another.
    assert.deepEqual(rule, {
      ID: INTERMEDIATE_RULE_ID,
      Status: 'Enabled',
      Filter: { And: { Prefix: 'jobs/', Tags: [{ Key: INTERMEDIATE_TAG.key, Value: INTERMEDIATE_TAG.value }] } },
      Expiration: { Days: 3 },
    });
  });

  test('a second run (policy attached already) succeeds; S3_INTERMEDIATE_DAYS=0 removes the rule', () => {
    const again = runInit({}, 'case "$*" in *"policy attach"*) echo "policy change already in effect" >&2; exit 1 ;; esac');
    assert.equal(again.status, 0, again.stderr);
    const keep = runInit({ S3_INTERMEDIATE_DAYS: '0' });
    assert.equal(keep.status, 0, keep.stderr);
    assert.equal(keep.lifecycle, '');
    assert.ok(keep.calls.some((c) => c.startsWith('ilm rule rm --all')), keep.calls.join('\n'));
  });

  test('bad settings stop it with a message that names the variable', () => {
    for (const [overrides, variable] of [[{ S3_SECRET_KEY: 'short' }, 'S3_SECRET_KEY'], [{ S3_INTERMEDIATE_DAYS: 'a week' }, 'S3_INTERMEDIATE_DAYS'], [{ MINIO_ROOT_PASSWORD: '' }, 'MINIO_ROOT_PASSWORD']] as const) {
      const r = runInit(overrides);
      assert.notEqual(r.status, 0, `accepted ${JSON.stringify(overrides)}`);
      assert.match(r.stderr, new RegExp(variable));
    }
    const other = runInit({}, 'case "$*" in *"policy attach"*) echo "access denied" >&2; exit 1 ;; esac');
    assert.notEqual(other.status, 0, 'a real attach failure was ignored');
  });
});

// ---- .env.example documents every variable the code reads ----

/** Read by the code, but not configuration of MySpinBot. */
const NOT_CONFIGURATION: Record<string, string> = {
  CI: 'set by CI systems',
  NODE_ENV: 'a Node.js convention, not read for behaviour here',
  HOME: 'the OS user\'s home',
  PATH: 'where programs are found',
  USER: 'the OS user name, used as the CLI requester id',
  PYTHONPATH: "Python's module path, passed on to the worker",
  XDG_CACHE_HOME: 'the XDG base directory under which the model cache lives',
  SPINBOT_PARENT_PID: 'set by the bot for the worker it starts (parent-death signal), not by an operator',
};

const TS_DIRS = ['api', 'bot', 'agent', 'pipeline', 'storage', 'media', 'gpu-bridge', 'metrics', 'setup'];

function sourceFiles(dirs: string[], pattern: RegExp, skip: string[] = []): string[] {
  const walk = (dir: string): string[] => {
    const abs = join(ROOT, dir);
    if (!existsSync(abs) || skip.includes(dir)) return [];
    return readdirSync(abs).flatMap((name) => {
      const path = join(dir, name);
      if (['node_modules', '__pycache__', 'tests'].includes(name)) return [];
      if (statSync(join(ROOT, path)).isDirectory()) return walk(path);
      return pattern.test(name) && !name.endsWith('.d.ts') ? [path] : [];
    });
  };
  return dirs.flatMap(walk);
}

/** The text with comments blanked and string contents blanked (quotes kept), newlines preserved. */
function blankCommentsAndStrings(text: string): string {
  let out = '';
  let state: 'code' | 'line' | 'block' | "'" | '"' | '`' = 'code';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (state === 'code') {
      // A backslash in code is inside a regex literal: keep the pair, so that \/\/ is not a comment.
      if (c === '\\') {
        out += c + (next ?? '');
        i++;
        continue;
      }
      if (c === '/' && next === '/') state = 'line';
      else if (c === '/' && next === '*') state = 'block';
      else if (c === "'" || c === '"' || c === '`') {
        state = c;
        out += c;
        continue;
      }
      out += state === 'code' ? c : ' ';
    } else if (state === 'line') {
      if (c === '\n') state = 'code';
      out += c === '\n' ? c : ' ';
    } else if (state === 'block') {
      if (c === '*' && next === '/') {
        state = 'code';
        out += '  ';
        i++;
      } else out += c === '\n' ? c : ' ';
    } else if (c === '\\') {
      out += '  ';
      i++;
    } else if (c === state) {
      state = 'code';
      out += c;
    } else out += c === '\n' ? c : ' ';
  }
  return out;
}

/** Keys at the top level of each `z.object({...})` / `.extend({...})` literal: a zod env schema's variables. */
function zodObjectKeys(source: string): string[] {
  const text = blankCommentsAndStrings(source);
  const keys: string[] = [];
  for (const m of text.matchAll(/(?:z\.object|\.extend)\(\s*\{/g)) {
    let depth = 1;
    let segment = '';
    for (let i = m.index + m[0].length; i < text.length && depth > 0; i++) {
      const c = text[i]!;
      if ('{[('.includes(c)) depth++;
      else if ('}])'.includes(c)) depth--;
      if (depth === 1 && c === ',') {
        keys.push(...(/^\s*([A-Z][A-Z0-9_]+)\s*:/.exec(segment)?.slice(1) ?? []));
        segment = '';
      } else if (depth >= 1) segment += c;
    }
    keys.push(...(/^\s*([A-Z][A-Z0-9_]+)\s*:/.exec(segment)?.slice(1) ?? []));
  }
  return keys;
}

function variablesReadByTypeScript(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles(TS_DIRS, /\.(ts|mjs)$/, ['gpu-bridge/worker'])) {
    const text = read(file);
    const add = (name: string) => found.has(name) || found.set(name, file);
    for (const m of text.matchAll(/process\.env\??\.([A-Z_][A-Z0-9_]*)/g)) add(m[1]!);
    for (const m of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b/g)) add(m[1]!);
    for (const m of text.matchAll(/\b(?:process\.)?env\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\]/g)) add(m[1]!);
    for (const m of text.matchAll(/\{([^}]*)\}\s*=\s*process\.env\b/g)) for (const k of m[1]!.matchAll(/\b([A-Z][A-Z0-9_]+)\b/g)) add(k[1]!);
    for (const key of zodObjectKeys(text)) add(key);
  }
  return found;
}

function variablesReadByPython(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles(['gpu-bridge/worker/spinbot_worker'], /\.py$/)) {
    const text = read(file);
    const add = (name: string) => found.has(name) || found.set(name, file);
    const call = /\b(?:os\.environ\.get|environ\.get|os\.getenv|getenv|env\.get)\(\s*['"]([A-Z_][A-Z0-9_]*)['"]/g;
    const index = /\b(?:os\.environ|environ|env)\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\]/g;
    for (const m of text.matchAll(call)) add(m[1]!);
    for (const m of text.matchAll(index)) add(m[1]!);
    // config.py reads through helpers (integer("NAME", ...)) and name tables: every NAME-shaped literal there.
    if (file.endsWith('config.py')) for (const m of text.matchAll(/['"]([A-Z][A-Z0-9]*_[A-Z0-9_]+)['"]/g)) add(m[1]!);
  }
  return found;
}

function documentedVariables(): Set<string> {
  return new Set([...read('.env.example').matchAll(/^#?\s?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

describe('.env.example', () => {
  test('the scanners find the variables we know the code reads (so an empty scan cannot pass)', () => {
    const ts = variablesReadByTypeScript();
    for (const name of ['REDIS_URL', 'DISCORD_TOKEN', 'SPINBOT_LLM_SEED', 'FFMPEG_PATH', 'S3_ENDPOINT', 'SPINBOT_SKIP_SETUP']) assert.ok(ts.has(name), `TypeScript scan missed ${name}`);
    const py = variablesReadByPython();
    for (const name of ['REDIS_URL', 'SPINBOT_QUEUE', 'SPINBOT_TTS_BACKEND', 'SPINBOT_MAX_STALLED_COUNT']) assert.ok(py.has(name), `Python scan missed ${name}`);
  });

  test('documents every variable the TypeScript and Python code reads', () => {
    const documented = documentedVariables();
    const missing = [...variablesReadByTypeScript(), ...variablesReadByPython()]
      .filter(([name]) => !documented.has(name) && !(name in NOT_CONFIGURATION))
      .map(([name, file]) => `${name} (read in ${file})`);
    assert.deepEqual([...new Set(missing)], []);
  });

  test('documents every ${VARIABLE} the compose files interpolate, and leaves secrets empty', () => {
    const documented = documentedVariables();
    const interpolated = new Set([...(read('docker-compose.yml') + read(WORKER_HOST)).matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
    assert.deepEqual([...interpolated].filter((v) => !documented.has(v)), []);
    const values = new Map([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
    for (const [name, value] of values) if (/PASSWORD|SECRET|TOKEN/.test(name)) assert.equal(value, '', `${name} must be empty in .env.example`);
  });

  test('every variable has a comment above it', () => {
    const lines = read('.env.example').split('\n');
    lines.forEach((line, i) => {
      if (!/^[A-Z][A-Z0-9_]*=/.test(line)) return;
      let j = i - 1;
      while (j >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[j]!)) j--; // a group of variables shares one comment
      assert.ok(j >= 0 && lines[j]!.startsWith('#'), `${line.split('=')[0]} has no comment`);
    });
  });
});
