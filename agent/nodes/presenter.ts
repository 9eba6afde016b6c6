// presenter: code only. Marks which scenes have the talking presenter (and how: full frame or in a
// corner over the picture) and which move, from the brief; caps the moving scenes. No model call:
// the choice follows the request, and the plan shown for approval says which scenes it touched.
import { LIMITS, type ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import type { PlanBrief, PlannerStateType, PlannerUpdate } from '../state.ts';

/** Who presents: nobody, the user from their stored portrait, or the built-in character. */
export type PresenterChoice = 'none' | 'me' | 'character';

/**
 * Motion scenes per video: image-to-video is the slowest GPU stage (~70 s per 5 s shot on a 16 GB
 * card), so SPINBOT_MAX_MOTION_SCENES (default 2, never above LIMITS.maxMotionScenes) sizes it to the budget.
 */
export function maxMotionScenes(env: Record<string, string | undefined> = process.env): number {
  const raw = env.SPINBOT_MAX_MOTION_SCENES?.trim();
  const value = raw ? Number(raw) : 2;
  if (!Number.isInteger(value) || value < 0) throw new Error(`SPINBOT_MAX_MOTION_SCENES=${raw}: a whole number of scenes, e.g. 2`);
  return Math.min(value, LIMITS.maxMotionScenes);
}

/**
 * The presenter opens the video full frame and stays in a corner over the pictures after that (the
 * pictures still tell the story); motion goes to evenly spread scenes without a full-frame presenter.
 */
export function stageScenes(plan: ScriptPlan, brief: Pick<PlanBrief, 'presenter' | 'presenterKey' | 'motion'>, motionCap = maxMotionScenes()): ScriptPlan {
  const presenter = brief.presenter ?? 'none';
  // Only what the request asks for is written: a plain plan stays as the planner made it.
  const scenes: ScriptPlan['scenes'] = plan.scenes.map(({ presenter: _p, motion: _m, ...scene }, i) =>
    presenter === 'none' ? scene : { ...scene, presenter: i === 0 ? 'full' : 'corner' },
  );
  if (brief.motion) {
    const candidates = scenes.map((scene, i) => (scene.presenter === 'full' ? -1 : i)).filter((i) => i >= 0);
    const count = Math.min(motionCap, candidates.length);
    for (let k = 0; k < count; k++) scenes[candidates[Math.floor((k * candidates.length) / count)]!]!.motion = true;
  }
  const { presenterKey: _dropped, ...rest } = plan;
  return { ...rest, ...(presenter === 'me' && brief.presenterKey ? { presenterKey: brief.presenterKey } : {}), scenes };
}

export function presenter(state: PlannerStateType): PlannerUpdate {
  if (!state.brief || !state.scriptPlan) throw new Error('presenter node ran before enforce');
  return { scriptPlan: stageScenes(state.scriptPlan, state.brief) };
}
