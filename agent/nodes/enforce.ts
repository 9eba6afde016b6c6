// enforce: code only, never trusting the model. Whatever the draft says, the plan that leaves
// here has exactly the brief's scene count, scene seconds that add up to the requested length,
// narration a voice can speak in its scene's time, and passes the ScriptPlan contract.
import { LIMITS, ScriptPlan, type Scene } from '../../gpu-bridge/contracts/index.ts';
import type { DraftPlan } from '../schema.ts';
import type { PlanBrief, PlannerStateType, PlannerUpdate } from '../state.ts';

/** Fewer words than this is "nothing usable" (a stray "Blue." or an empty string). */
export const MIN_NARRATION_WORDS = 3;
export const MAX_ON_SCREEN_CHARS = 80;
export const MAX_TITLE_CHARS = 100;
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
  if (sentenceEnd > cut.length / 2) cut = cut.slice(0, sentenceEnd + 1);
  cut = cut.replace(/[\s,;:–-]+$/, '');
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

/** Splits a scene's narration in two (at a sentence end near the middle when possible). */
function splitScene(scene: RawScene): [RawScene, RawScene] {
  const all = words(scene.narration);
  let at = Math.ceil(all.length / 2);
  const ends = all.map((w, i) => (/[.!?]$/.test(w) && i < all.length - 1 ? i + 1 : -1)).filter((i) => i > 0);
  if (ends.length) at = ends.reduce((best, i) => (Math.abs(i - all.length / 2) < Math.abs(best - all.length / 2) ? i : best));
  const first = all.slice(0, at).join(' ');
  const second = all.slice(at).join(' ');
  return [
    { ...scene, narration: first },
    { narration: second, visualPrompt: scene.visualPrompt, onScreenText: '' },
  ];
}

/** Exactly `count` scenes: extras dropped, missing ones made by splitting the wordiest scene. */
export function fitSceneCount(scenes: RawScene[], count: number, fallback: RawScene): RawScene[] {
  const fitted = scenes.filter((s) => s.narration || s.visualPrompt).slice(0, count);
  while (fitted.length < count) {
    let longest = -1;
    fitted.forEach((s, i) => {
      if (words(s.narration).length >= 2 * MIN_NARRATION_WORDS && (longest < 0 || words(s.narration).length > words(fitted[longest]!.narration).length)) {
        longest = i;
      }
    });
    if (longest < 0) {
      fitted.push({ ...fallback });
      continue;
    }
    fitted.splice(longest, 1, ...splitScene(fitted[longest]!));
  }
  return fitted;
}

/** Whole seconds per scene that add up exactly to `total` (the first scenes take the remainder). */
export function sceneSeconds(total: number, count: number): number[] {
  const base = Math.floor(total / count);
  const extra = total - base * count;
  return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0));
}

export function enforcePlan(draft: DraftPlan | undefined, brief: PlanBrief): ScriptPlan {
  // A topic of one or two words ("cats") makes a thin narration; the whole prompt then reads better.
  const topicSentence = sentence(words(brief.topic).length >= MIN_NARRATION_WORDS ? brief.topic : brief.prompt);
  const fallback: RawScene = { narration: topicSentence, visualPrompt: brief.topic, onScreenText: '' };
  const drafted: RawScene[] = (draft?.scenes ?? []).map((s) => ({
    narration: clean(s.narration),
    visualPrompt: clean(s.visualPrompt),
    onScreenText: clean(s.onScreenText),
  }));
  const fitted = fitSceneCount(drafted, brief.sceneCount, fallback);
  const seconds = sceneSeconds(brief.seconds, brief.sceneCount);

  const scenes: Scene[] = fitted.map((raw, i) => {
    const sceneSecs = seconds[i]!;
    const maxWords = Math.max(MIN_NARRATION_WORDS, Math.floor(LIMITS.maxWordsPerSecond * sceneSecs));
    let narration = raw.narration;
    if (words(narration).length < MIN_NARRATION_WORDS) {
      // Nothing usable: the picture's description reads better than nothing, else the topic.
      narration = words(raw.visualPrompt).length >= MIN_NARRATION_WORDS ? sentence(raw.visualPrompt) : topicSentence;
    }
    narration = capNarration(narration, maxWords);
    const visualPrompt = cutChars(raw.visualPrompt || narration || brief.topic, MAX_VISUAL_CHARS);
    const onScreenText = captionText(raw.onScreenText) || captionFrom(narration);
    return { narration, visualPrompt, onScreenText, seconds: sceneSecs };
  });

  const title = cutChars(clean(draft?.title) || sentence(brief.topic).replace(/[.!?…]$/, ''), MAX_TITLE_CHARS);
  return ScriptPlan.parse({ title, language: brief.language, voice: brief.voice, style: brief.style, aspect: brief.aspect, music: brief.music, scenes });
}

export function enforce(state: PlannerStateType): PlannerUpdate {
  if (!state.brief) throw new Error('enforce node ran before understand');
  return { scriptPlan: enforcePlan(state.draft, state.brief) };
}
