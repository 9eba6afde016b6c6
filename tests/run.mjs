#!/usr/bin/env node
// Runs every suite: the TypeScript type check, node's test runner over tests/**/*.test.ts, and the
// Python worker's pytest suite. `npm test -- tests/media` runs only the files under that path
// (and skips pytest unless a path under gpu-bridge/worker is given).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const filters = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

const selected = (path) => !filters.length || filters.some((f) => path.startsWith(f.replace(/^\.\//, '')));
const results = [];
// The tests that plan with the real embedded model use the default one (the 0.5B writes scripts
// the review refuses); set-up fetches both for them.
const testEnv = { ...process.env };
function step(name, command, args, env = {}) {
  process.stderr.write(`\n=== ${name}\n`);
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...testEnv, ...env } });
  results.push({ name, ok: status === 0 });
}

if (!filters.length) step('type check (tsc --noEmit)', 'npx', ['tsc', '--noEmit']);
const tests = findTests(join(root, 'tests')).filter(selected).sort();
if (tests.length) step(`node tests (${tests.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...tests]);
if (!filters.length || filters.some((f) => f.startsWith('gpu-bridge/worker'))) {
  step('Python worker tests (pytest)', join(root, '.venv', 'bin', 'python'), ['-m', 'pytest', '-q', 'gpu-bridge/worker/tests'], {
    PYTHONPATH: join(root, 'gpu-bridge', 'worker'),
  });
}

process.stderr.write('\n=== summary\n');
for (const r of results) process.stderr.write(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
