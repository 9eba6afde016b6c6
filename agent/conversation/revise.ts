// Changing a plan: "redo scene 2 with a sunset" rewrites one scene (the model writes it, code caps
// it); "shorter" / "40 seconds" re-plans at the new length; "vertical", "with music", "in neon
// style" change those settings without asking the model; anything else re-plans the request with
// the change added. Afterwards every plan passes the same caps as a new one (enforcePlan).
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { LIMITS, type ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import type { PlanBrief, PlannerContext, PlanRequest } from '../graph.ts';
import { clean, enforcePlan, withNotice } from '../nodes/enforce.ts';
import { PROMPTS as PLAN_PROMPTS, pictureNotNarration, sceneFormat } from '../nodes/plan.ts';
import { wordCount, wordRange, wordsAsked } from '../nodes/review.ts';
import { stageScenes } from '../nodes/presenter.ts';
import { parseAspect, parseDurationSeconds, parseMotion, parseMusic, parsePresenter, parseStyle, understandRequest } from '../nodes/understand.ts';
import { renderPrompt } from '../prompts.ts';
import { DraftScene } from '../schema.ts';

export const REVISE_PROMPT = 'revise-scene.v2';

export interface Revision {
  plan: ScriptPlan;
  request: PlanRequest;
  /** 0-based scenes that differ from the plan before. */
  changed: number[];
}

const totalSeconds = (plan: ScriptPlan) => plan.scenes.reduce((sum, s) => sum + s.seconds, 0);

/** 0-based scenes of `after` that are the same as in `before` (same words, picture, length and look). */
export function unchangedScenes(before: ScriptPlan, after: ScriptPlan): number[] {
  const sameLook =
    before.aspect === after.aspect && before.style === after.style && before.language === after.language && JSON.stringify(before.voice) === JSON.stringify(after.voice);
  if (!sameLook) return [];
  return after.scenes.flatMap((scene, i) => {
    const old = before.scenes[i];
    const same = old && old.narration === scene.narration && old.visualPrompt === scene.visualPrompt && old.onScreenText === scene.onScreenText && old.seconds === scene.seconds
      // A scene that gains, loses or moves its presenter, or starts or stops moving, is made again.
      && (old.presenter ?? 'none') === (scene.presenter ?? 'none') && Boolean(old.motion) === Boolean(scene.motion);
    return same ? [i] : [];
  });
}

function changedScenes(before: ScriptPlan, after: ScriptPlan): number[] {
  const same = new Set(unchangedScenes(before, after));
  return after.scenes.map((_, i) => i).filter((i) => !same.has(i));
}

/** A new length when the change asks for one ("shorter", "longer", "make it 40 seconds"). */
export function lengthChange(change: string, currentSeconds: number): number | undefined {
  const named = parseDurationSeconds(change);
  if (named !== undefined) return named;
  if (/\b(?:shorter|quicker|less\s+long|cut\s+it\s+down)\b/i.test(change)) return Math.max(LIMITS.minSeconds, Math.round(currentSeconds * 0.66));
  if (/\b(?:longer|extend|more\s+time)\b/i.test(change)) return Math.min(LIMITS.maxSeconds, Math.round(currentSeconds * 1.5));
  return undefined;
}

/** Words left after the settings a change names ("vertical", "with music") are taken out. */
function hasMoreThanSettings(change: string): boolean {
  const rest = change
    .replace(/\b(?:please|make|it|the|video|clip|a|an|and|but|just|now|use|set|turn|to|be|in|with|without|no|add|some|style|format|shape|on|off)\b/gi, ' ')
    .replace(/\b(?:vertical|portrait|square|landscape|widescreen|9:16|16:9|1:1|music|soundtrack|background|upbeat|soft|calm)\b/gi, ' ')
    .replace(/\b(?:presenter|character|avatar|host|motion|moving|present|presented|presenting|yourself|myself|me|by|any)\b/gi, ' ');
  const style = parseStyle(change);
  const remaining = (style ? rest.replace(style, ' ') : rest).replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  return remaining.split(' ').filter(Boolean).length > 0;
}

/** "redo scene 2 with a sunset" -> "with a sunset". */
function wishOf(change: string): string {
  return change
    .replace(/^(?:please\s+)?(?:redo|re-do|change|make|replace)\s+/i, '')
    .replace(/\b(?:the\s+)?(?:scene\s*#?\d+|\w+\s+scene)\b/i, '')
    .trim();
}

const STOP_WORDS = new Set(['with', 'and', 'the', 'a', 'an', 'of', 'in', 'on', 'to', 'more', 'less', 'some', 'it', 'make', 'use', 'please', 'instead']);

function contentWords(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 2 && !STOP_WORDS.has(w));
}

async function rewriteScene(plan: ScriptPlan, index: number, change: string, deps: PlannerContext, topic: Pick<PlanBrief, 'topic'>, signal?: AbortSignal) {
  const scene = plan.scenes[index]!;
  const [minWords, maxWords] = wordsAsked(scene.seconds);
  const prompt = renderPrompt(REVISE_PROMPT, {
    sceneNumber: index + 1,
    narration: scene.narration,
    visualPrompt: scene.visualPrompt,
    change,
    minWords,
    maxWords,
  });
  const messages = [new SystemMessage(renderPrompt(PLAN_PROMPTS.system, {})), new HumanMessage(prompt)];
  await deps.ready?.();
  for (let attempt = 0; attempt < 2; attempt++) {
    const answer = await deps.model.invoke(messages, {
      format: sceneFormat([minWords, maxWords]),
      maxTokens: 64 + maxWords * 3,
      unlike: pictureNotNarration(topic),
      ...(signal ? { signal } : {}),
    });
    try {
      const text = answer.text;
      const parsed = DraftScene.safeParse(JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)));
      // A rewrite without narration keeps the scene's old words rather than leave it silent.
      if (parsed.success && wordCount(parsed.data.narration) < 3) parsed.data.narration = scene.narration;
      if (parsed.success) {
        // A small model may rewrite the scene yet drop the very thing asked for: then the wish is
        // added to the picture's description, so the change always shows.
        const mentioned = contentWords(wishOf(change)).some((word) => parsed.data.visualPrompt.toLowerCase().includes(word));
        return mentioned ? parsed.data : { ...parsed.data, visualPrompt: `${parsed.data.visualPrompt || scene.visualPrompt}, ${wishOf(change)}`.slice(0, 200) };
      }
    } catch {
      // not JSON: ask once more
    }
  }
  // The model could not do it: the change itself becomes part of the picture.
  return { narration: scene.narration, visualPrompt: `${scene.visualPrompt}, ${wishOf(change)}`.slice(0, 200), onScreenText: scene.onScreenText };
}

/**
 * The plan after a change request. `scene` is 1-based (from the router) and targets one scene;
 * without it the whole plan may change. Throws the planner's UserErrors (e.g. a length out of range).
 */
export async function revisePlan(
  base: { plan: ScriptPlan; request: PlanRequest },
  change: string,
  scene: number | undefined,
  deps: PlannerContext & { plan: (request: PlanRequest, signal?: AbortSignal) => Promise<ScriptPlan>; defaults?: Partial<PlanRequest> },
  signal?: AbortSignal,
): Promise<Revision> {
  const { plan } = base;
  const settings = {
    style: parseStyle(change) ?? plan.style,
    aspect: parseAspect(change) ?? plan.aspect,
    music: parseMusic(change) ?? plan.music,
  };
  // "with the presenter", "no presenter", "present it yourself" (the portrait the front-end checked), "with motion".
  const presenter = parsePresenter(change);
  const motion = parseMotion(change);
  const staging: Partial<PlanRequest> = {
    ...(presenter ? { presenter } : {}),
    ...(motion !== undefined ? { motion } : {}),
    ...(deps.defaults?.presenterKey ? { presenterKey: deps.defaults.presenterKey } : {}),
  };
  const request: PlanRequest = { ...base.request, ...settings, ...staging };
  const seconds = lengthChange(change, totalSeconds(plan));

  let next: ScriptPlan;
  if (scene !== undefined && scene >= 1 && scene <= plan.scenes.length && seconds === undefined) {
    const index = scene - 1;
    const brief = { ...understandRequest({ ...request, seconds: totalSeconds(plan) }), sceneCount: plan.scenes.length };
    const rewritten = await rewriteScene(plan, index, change, deps, brief, signal);
    // The new scene passes the same caps as any plan (words for its seconds, caption, lengths);
    // every other scene stays exactly as it was, and so does every scene's length (their pictures
    // are kept) - unless the new words are more than the scene can hold: rather than cut them, the
    // lengths are timed to the narration again, as for a new plan, and the scenes whose length
    // changed are made again.
    const draft = { title: plan.title, musicMood: plan.musicMood, scenes: plan.scenes.map((s, i) => (i === index ? rewritten : s)) };
    const keepLengths = wordCount(clean(rewritten.narration)) <= wordRange(plan.scenes[index]!.seconds)[1];
    const capped = enforcePlan(draft, brief, keepLengths ? plan.scenes.map((s) => s.seconds) : undefined);
    // The notice follows the rewritten scene: gone when it fixed what was wrong, new when it broke something.
    next = withNotice({ ...plan, ...settings, scenes: plan.scenes.map((s, i) => (i === index ? capped.scenes[i]! : { ...s, seconds: capped.scenes[i]!.seconds })) }, brief);
  } else if (seconds !== undefined) {
    const asked: PlanRequest = { ...request, seconds };
    understandRequest(asked); // a length out of range is the user's message, before any model call
    next = await deps.plan(asked, signal);
    return { plan: next, request: asked, changed: changedScenes(plan, next) };
  } else if (!hasMoreThanSettings(change)) {
    next = { ...plan, ...settings };
    if (presenter || motion !== undefined) next = stageScenes(next, understandRequest({ ...request, seconds: totalSeconds(plan) }));
  } else {
    const prompt = `${base.request.prompt}. ${change}`.slice(0, LIMITS.maxPromptChars);
    const asked: PlanRequest = { ...request, prompt, seconds: base.request.seconds ?? totalSeconds(plan) };
    next = await deps.plan(asked, signal);
    return { plan: next, request: asked, changed: changedScenes(plan, next) };
  }
  return { plan: next, request, changed: changedScenes(plan, next) };
}
