// `npm start -- doctor`: what the GPU engine can run here, one line per workflow, e.g.
//   motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors (download page …)
// The worker's own preflight prints it (gpu-bridge/worker/spinbot_worker/comfyui), so the check that
// runs at worker start and this command cannot disagree.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from '../pipeline/services.ts';

export interface DoctorReport {
  ok: boolean;
  text: string;
}

export function runDoctor(env: NodeJS.ProcessEnv = process.env): DoctorReport {
  const python = join(REPO_ROOT, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    return { ok: false, text: 'The Python worker is not installed (.venv is missing). Run `npm start` once to set it up.' };
  }
  const done = spawnSync(python, ['-m', 'spinbot_worker.comfyui'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, PYTHONPATH: [join(REPO_ROOT, 'gpu-bridge', 'worker'), env.PYTHONPATH].filter(Boolean).join(delimiter) },
  });
  const text = `${done.stdout ?? ''}${done.stderr ?? ''}`.trim() || (done.error ? `The check could not run: ${done.error.message}` : '');
  return { ok: done.status === 0, text };
}

/** `npm start -- doctor`: the report on stdout; a check that could not run is an error. */
export function runDoctorCommand(): void {
  const report = runDoctor();
  if (!report.ok) throw new Error(report.text);
  process.stdout.write(`${report.text}\n`);
}
