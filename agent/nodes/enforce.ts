// enforce: code only, never trusting the model. The plan that leaves here has exactly the brief's
// scene count, scene seconds that add up to the requested length (each scene as long as its
// narration takes to say), narration a voice can speak in its scene's time, and passes the
// ScriptPlan contract. It never writes narration for the model: a draft missing a scene or a
// scene's words (the plan node refuses those first) is a bug here.
import { LIMITS, ScriptPlan, type Scene } from '../../gpu-bridge/contracts/index.ts';
import type { DraftPlan } from '../schema.ts';
import type { PlanBrief, PlannerStateType, PlannerUpdate } from '../state.ts';
import { planNotice, reviewDraft, timedSceneSeconds, wordCount } from './review.ts';

export const MAX_ON_SCREEN_CHARS = 80;
export const MAX_TITLE_CHARS = 100;
const MAX_NOTICE_CHARS = 500;
const MAX_VISUAL_CHARS = 400;
const CAPTION_WORDS = 5;

interface RawScene {
  narration: string;
  visualPrompt: string;
  onScreenText: string;
}

/** Collapses whitespace and drops control characters and stray quotes around the text. */
export function clean(text: string | undefined): string {
  return (text ?? '')
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'“”‘’`]+|["'“”‘’`]+$/g, '')
    .trim();
}

const words = (text: string) => (text ? text.split(' ') : []);

/** Cuts text to at most maxChars, at a word boundary when there is one. */
export function cutChars(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return (space > maxChars / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:–-]+$/, '');
}

/** At most maxWords words and maxChars characters, ending at a sentence end when one is near. */
export function capNarration(text: string, maxWords: number, maxChars = LIMITS.maxNarrationChars): string {
  const all = words(text);
  if (all.length <= maxWords && text.length <= maxChars) return text;
  let cut = cutChars(all.slice(0, maxWords).join(' '), maxChars);
  const sentenceEnd = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('! '), cut.lastIndexOf('? '));
  const clauseEnd = Math.max(cut.lastIndexOf(', '), cut.lastIndexOf('; '));
  if (sentenceEnd > cut.length / 2) cut = cut.slice(0, sentenceEnd + 1);
  else if (clauseEnd > cut.length / 2) cut = cut.slice(0, clauseEnd);
  // A sentence cut short should not end on "of the" or "and".
  cut = cut.replace(/[\s,;:–-]+$/, '').replace(/(?:\s+(?:the|a|an|of|on|in|at|to|for|from|with|by|and|or|but|so|that|which|its|their|our|is|are|was))+$/i, '');
  return /[.!?…]$/.test(cut) ? cut : `${cut}.`;
}

/** A short caption from a sentence: its first few words, no trailing punctuation. */
export function captionFrom(text: string): string {
  const caption = words(text).slice(0, CAPTION_WORDS).join(' ').replace(/[\s.,;:!?–-]+$/, '');
  return cutChars(caption, MAX_ON_SCREEN_CHARS);
}

/** A caption is one line: its first sentence, no final full stop, at most 80 characters. */
export function captionText(text: string): string {
  const sentenceEnd = text.match(/^.*?[.!?](?=\s|$)/)?.[0];
  const first = sentenceEnd && words(sentenceEnd).length >= 2 ? sentenceEnd : text;
  return cutChars(first.replace(/\.$/, '').trim(), MAX_ON_SCREEN_CHARS);
}

function sentence(text: string): string {
  const t = clean(text);
  if (!t) return t;
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** `lengths`: the scenes' seconds when they are already set (a scene rewritten in a plan shown); else timed to the narration. */
export function enforcePlan(draft: DraftPlan, brief: PlanBrief, lengths?: number[]): ScriptPlan {
  const drafted: RawScene[] = draft.scenes.slice(0, brief.sceneCount).map((s) => ({
    narration: clean(s.narration),
    visualPrompt: clean(s.visualPrompt),
    onScreenText: clean(s.onScreenText),
  }));
  const unusable = drafted.length < brief.sceneCount ? drafted.length : drafted.findIndex((s) => wordCount(s.narration) === 0);
  if (unusable >= 0) throw new Error(`enforcePlan: scene ${unusable + 1} of ${brief.sceneCount} has no narration (the plan node should have refused it)`);
  const seconds = lengths ?? timedSceneSeconds(drafted.map((s) => s.narration), brief.seconds);

  const scenes: Scene[] = drafted.map((raw, i) => {
    const sceneSecs = seconds[i]!;
    const narration = capNarration(sentence(raw.narration), Math.floor(LIMITS.maxWordsPerSecond * sceneSecs));
    const visualPrompt = cutChars(raw.visualPrompt || narration, MAX_VISUAL_CHARS);
    const onScreenText = captionText(raw.onScreenText) || captionFrom(narration);
    return { narration, visualPrompt, onScreenText, seconds: sceneSecs };
  });

  const title = cutChars(clean(draft.title) || sentence(brief.topic).replace(/[.!?…]$/, ''), MAX_TITLE_CHARS);
  const musicMood = draft.musicMood ? { musicMood: draft.musicMood } : {};
  const plan = ScriptPlan.parse({ title, language: brief.language, voice: brief.voice, style: brief.style, aspect: brief.aspect, music: brief.music, ...musicMood, scenes });
  return withNotice(plan, brief);
}

/**
 * The plan with a notice naming what a viewer would still notice is wrong with it (as the user will
 * get it, after the caps above), or without one when nothing is: a plan the rewrites could not fix
 * is shown with what is wrong, never passed off as fine.
 */
export function withNotice(plan: ScriptPlan, brief: PlanBrief): ScriptPlan {
  const { notice: _old, ...rest } = plan;
  const scenes = plan.scenes;
  const notice = planNotice(reviewDraft({ title: plan.title, musicMood: plan.musicMood, scenes }, { ...brief, sceneCount: scenes.length }, scenes.map((s) => s.seconds)));
  return notice ? { ...rest, notice: cutChars(notice, MAX_NOTICE_CHARS) } : rest;
}

export function enforce(state: PlannerStateType): PlannerUpdate {
  if (!state.brief) throw new Error('enforce node ran before understand');
  if (!state.draft) throw new Error('enforce node ran before plan');
  return { scriptPlan: enforcePlan(state.draft, state.brief) };
}
