// The ComfyUI protocol emulator (gpu-bridge/worker/tests/comfyui_emulator.py) as a process, for the
// TypeScript suites: the same server the worker's own tests use.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../pipeline/services.ts';

export interface EmulatedComfyUI {
  url: string;
  stop(): void;
}

/**
 * models: "folder/file" entries the loaders list, e.g. "checkpoints/flux1-schnell-fp8.safetensors";
 * args: more of the emulator's options, e.g. ['--step-delay', '0.4'] (slow steps, time to cancel).
 */
export async function startComfyEmulator(t: { after(fn: () => unknown): void }, models: string[], args: string[] = []): Promise<EmulatedComfyUI> {
  const python = join(REPO_ROOT, '.venv', 'bin', 'python');
  const script = join(REPO_ROOT, 'gpu-bridge', 'worker', 'tests', 'comfyui_emulator.py');
  const child = spawn(python, [script, '--port', '0', ...models.flatMap((m) => ['--model', m]), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  assert.match(first, /^listening http:\/\/127\.0\.0\.1:\d+$/);
  const emulator = { url: first.split(' ')[1]!, stop: () => void child.kill('SIGTERM') };
  t.after(() => emulator.stop());
  return emulator;
}
