// `npm start -- doctor`: what the GPU engine can run here, one line per workflow, e.g.
//   motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors (download page …)
// The worker's own preflight prints it (gpu-bridge/worker/spinbot_worker/comfyui), so the check that
// runs at worker start and this command cannot disagree.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import type { GpuQueue } from '../gpu-bridge/producer.ts';
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

/** A stage as a GPU worker's preflight last found it, e.g. { ready: false, line: 'motion: Wan 2.2 TI2V-5B — missing …' }. */
export interface StageReadiness {
  ready: boolean;
  line: string;
}

/**
 * What the GPU workers of this queue last said of each stage: each publishes its preflight to Redis
 * every 30 s (spinbot_worker/comfyui/backends.py, gone 90 s after it stops). Empty: no worker with
 * ComfyUI runs, or Redis cannot say.
 */
export async function gpuReadiness(queue: GpuQueue): Promise<Record<string, StageReadiness>> {
  try {
    const client = await queue.queue.getBackend().client;
    const raw = await client.get(queue.queue.toKey('gpu-readiness'));
    return raw ? (JSON.parse(raw) as Record<string, StageReadiness>) : {};
  } catch {
    return {};
  }
}

/** null when motion scenes can move, else the sentence saying why every scene stays a still. */
export function motionUnavailable(readiness: Record<string, StageReadiness>): string | null {
  const motion = readiness.motion;
  if (motion?.ready) return null;
  const why = motion
    ? `the GPU worker's motion workflow is not ready (${motion.line})`
    : Object.keys(readiness).length
      ? 'the GPU worker has no motion workflow installed (see workflows/)'
      : 'no GPU worker with ComfyUI is running';
  return `Motion is off: ${why}, so every scene stays a still picture with a slow pan.`;
}

/**
 * The plan as this installation can render it: motion scenes need a ready motion workflow on a GPU
 * worker, so without one the cap on moving scenes is 0 (none is marked) and `note` says why.
 */
export async function renderablePlan(queue: GpuQueue, plan: ScriptPlan): Promise<{ plan: ScriptPlan; note?: string }> {
  if (!plan.scenes.some((scene) => scene.motion)) return { plan };
  const note = motionUnavailable(await gpuReadiness(queue));
  return note ? { plan: { ...plan, scenes: plan.scenes.map(({ motion: _motion, ...scene }) => scene) }, note } : { plan };
}
