// review: code only. Reads a drafted plan the way a viewer would hear it and names what is wrong,
// scene by scene, in words the model can act on ("scene 3 repeats the sentence ... from scene 2",
// "scene 2 has 6 words; it needs 10 to 14"). The plan node asks the model to fix exactly those
// scenes; nothing here rewrites or pads the model's text.
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import type { DraftPlan } from '../schema.ts';
import type { PlanBrief } from '../state.ts';

/** Speaking rate asked of the model; calm narration is about 2.5 words a second. */
export const TARGET_WORDS_PER_SECOND = 2.5;
/** Below this a scene is mostly silence. */
export const MIN_WORDS_PER_SECOND = 1.6;
/** A phrase this long said in two scenes is a repetition a listener notices. */
export const REPEATED_PHRASE_WORDS = 5;

export interface Problem {
  /** 0-based scene; undefined for the plan as a whole. */
  scene?: number;
  /** Incomplete: a scene missing or empty, or said twice; a plan with one is never delivered. */
  kind: 'incomplete' | 'quality';
  /**
   * A quality problem the script bar itself names (a 5-word phrase in two scenes, two scenes with
   * one picture): the planner rewrites it whatever the time, as it does an incomplete scene.
   */
  barred?: boolean;
  /** One sentence for the model (and the logs). */
  message: string;
  /** The words said twice, when that is the problem. */
  repeated?: string;
  /** The same problem as a user reads it with the plan ("scene 3 has only 6 words for 5 seconds"). */
  note: string;
}

/** Whole seconds per scene that add up exactly to `total` (the first scenes take the remainder). */
export function sceneSeconds(total: number, count: number): number[] {
  const base = Math.floor(total / count);
  const extra = total - base * count;
  return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0));
}

/** How far a scene's length may stray from an even split, so that no picture flashes by or overstays. */
const SHORTEST_SCENE_SHARE = 0.6;
const LONGEST_SCENE_SHARE = 1.6;

/**
 * Whole seconds per scene that add up to `total`, each scene as long as its narration takes to say
 * at the plan's own pace (an editor cuts to the voice, not to a grid), within 0.6-1.6 times an even
 * split. A plan with a scene without words, or one no such split fits, is split evenly.
 * Measured with the 1.5B: its scenes run 9 to 17 words; on an even 5 s grid half of them were
 * "too short" or "too long" and each cost a rewrite, where timed to their words they fit.
 */
export function timedSceneSeconds(narrations: string[], total: number): number[] {
  const count = narrations.length;
  const words = narrations.map(wordCount);
  const even = total / count;
  const lo = Math.max(LIMITS.minSceneSeconds, Math.round(even * SHORTEST_SCENE_SHARE));
  const hi = Math.min(LIMITS.maxSceneSeconds, Math.round(even * LONGEST_SCENE_SHARE));
  if (!count || words.some((n) => n === 0) || lo * count > total || hi * count < total) return sceneSeconds(total, count);
  // Seconds per word such that the clamped lengths add up to the total (the sum grows with it).
  const lengths = (perWord: number) => words.map((n) => Math.min(hi, Math.max(lo, n * perWord)));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  let [low, high] = [0, total];
  for (let i = 0; i < 50; i++) {
    const mid = (low + high) / 2;
    if (sum(lengths(mid)) < total) low = mid;
    else high = mid;
  }
  const exact = lengths(high);
  // Whole seconds: round down, then the seconds left go to the scenes cut the most.
  const seconds = exact.map(Math.floor);
  const byRemainder = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest);
  for (let left = total - sum(seconds), k = 0; left > 0 && k < 2 * count; k++) {
    const { i } = byRemainder[k % count]!;
    if (seconds[i]! < hi) {
      seconds[i]! += 1;
      left -= 1;
    }
  }
  return sum(seconds) === total ? seconds : sceneSeconds(total, count);
}

/** The narration words a scene of `seconds` should have: [least, most]. */
export function wordRange(seconds: number): [number, number] {
  const least = Math.max(3, Math.ceil(seconds * MIN_WORDS_PER_SECOND));
  const most = Math.max(least + 1, Math.floor(seconds * LIMITS.maxWordsPerSecond));
  return [least, most];
}

/** The words asked for: around the target rate, inside wordRange. */
export function wordsAsked(seconds: number): [number, number] {
  const [least, most] = wordRange(seconds);
  const target = seconds * TARGET_WORDS_PER_SECOND;
  return [Math.max(least, Math.round(target * 0.85)), Math.min(most, Math.round(target * 1.1))];
}

/** Lower-case words without punctuation: what a listener hears. */
export function spokenWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu) ?? [];
}

export function wordCount(text: string): number {
  return spokenWords(text).length;
}

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?…])\s+/)
    .map((s) => spokenWords(s).join(' '))
    .filter((s) => s.split(' ').length >= 3);
}

function phrases(text: string, n = REPEATED_PHRASE_WORDS): Set<string> {
  const words = spokenWords(text);
  const out = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

/**
 * The narration without the sentences that say `repeated` (as reviewDraft quotes it): what is left
 * of a scene once a sentence it copied from another scene is taken out.
 */
export function withoutSentence(narration: string, repeated: string): string {
  return narration
    .split(/(?<=[.!?…])\s+/)
    .filter((sentence) => spokenWords(sentence).join(' ') !== repeated)
    .join(' ')
    .trim();
}

/** Words a finished English sentence does not end on ("... near the."). */
const DANGLING_END = /\b(?:the|a|an|of|to|with|and|or|but|your|their|its|our|his|her|my|into|near|than)[\s,;:]*[.!?…]?["')\]]?$/i;

/** Narration cut off at a length limit: no closing punctuation, a trailing comma, or a dangling last word. */
function stopsMidSentence(narration: string): boolean {
  const text = narration.trim();
  return !/[.!?…]["')\]]?$/.test(text) || /[,;:][.!?…]$/.test(text) || DANGLING_END.test(text);
}

/** The first phrase of REPEATED_PHRASE_WORDS words that both texts say, if any. */
export function sharedPhrase(a: string, b: string): string | undefined {
  const inB = phrases(b);
  for (const phrase of phrases(a)) if (inB.has(phrase)) return phrase;
  return undefined;
}

const TOPIC_STOP_WORDS = new Set(
  'about above after again also because been before being between could does doing down during each from further have having here into just more most much only other over same should some such than that their them then there these they this those through under until very what when where which while who whom why will with would your explain explains explainer video clip short story second seconds minute minutes make made show shows showing people things thing'.split(' '),
);

/** Words of the subject a plan on topic is bound to mention at least one of ("why the sky is blue" -> sky, blue). */
export function topicWords(topic: string): string[] {
  return [...new Set(spokenWords(topic).filter((w) => w.length >= 3 && !TOPIC_STOP_WORDS.has(w) && !/^\d+$/.test(w)))];
}

/** Same word, loosely: "brew" matches "brewing", "bees" matches "bee". */
function stemMatch(word: string, heard: Set<string>): boolean {
  const stem = word.replace(/(?:ing|ed|es|s)$/, '');
  for (const h of heard) if (h === word || (stem.length >= 3 && h.startsWith(stem))) return true;
  return false;
}

/**
 * Everything a viewer would notice is wrong with a draft, in the order of its scenes. Words are
 * judged against `seconds` when the scenes have them (a plan as the user sees it), else against
 * the lengths the plan will get (timedSceneSeconds).
 */
export function reviewDraft(draft: DraftPlan, brief: PlanBrief, sceneLengths?: number[]): Problem[] {
  const problems: Problem[] = [];
  const count = brief.sceneCount;
  const scenes = draft.scenes.slice(0, count);
  const evenSeconds = sceneSeconds(brief.seconds, count);
  const seconds = sceneLengths ?? (scenes.length === count ? timedSceneSeconds(scenes.map((s) => s.narration), brief.seconds) : evenSeconds);
  for (let i = scenes.length; i < count; i++) {
    problems.push({ scene: i, kind: 'incomplete', message: `Scene ${i + 1} is missing.`, note: `scene ${i + 1} is missing` });
  }
  scenes.forEach((scene, i) => {
    const n = i + 1;
    const words = wordCount(scene.narration);
    const [least, most] = wordRange(seconds[i]!);
    // A thin scene is asked for its even share of the video, as a rewrite is (plan.ts sceneMessages).
    const [askLeast, askMost] = wordsAsked(evenSeconds[i]!);
    if (words < 3) {
      problems.push({ scene: i, kind: 'incomplete', message: `Scene ${n} has no narration.`, note: `scene ${n} has no narration` });
    } else if (words < least) {
      problems.push({
        scene: i,
        kind: 'quality',
        message: `Scene ${n} has only ${words} words of narration; it needs ${askLeast} to ${askMost} to fill ${evenSeconds[i]} seconds.`,
        note: `scene ${n} has only ${words} words for its ${seconds[i]} seconds (mostly silence)`,
      });
    } else if (words > most) {
      problems.push({
        scene: i,
        kind: 'quality',
        message: `Scene ${n} has ${words} words of narration; at most ${most} can be spoken in ${seconds[i]} seconds.`,
        note: `scene ${n} has more words than its ${seconds[i]} seconds can hold (its end is cut)`,
      });
    }
    if (words >= 3 && stopsMidSentence(scene.narration)) {
      problems.push({
        scene: i,
        kind: 'quality',
        message: `Scene ${n}'s narration stops in the middle of a sentence; finish the sentence.`,
        note: `scene ${n} stops mid-sentence`,
      });
    }
    // A whole sentence said again anywhere earlier first; only then a shared phrase.
    const earlier = scenes.slice(0, i);
    const sentenceAgain = earlier
      .map((other, j) => ({ j, sentence: sentences(scene.narration).find((s) => sentences(other.narration).includes(s)) }))
      .find((hit) => hit.sentence);
    const phraseAgain = earlier.map((other, j) => ({ j, phrase: sharedPhrase(scene.narration, other.narration) })).find((hit) => hit.phrase);
    if (sentenceAgain) {
      const repeated = sentenceAgain.sentence!;
      const message = `Scene ${n} repeats the sentence "${repeated}" from scene ${sentenceAgain.j + 1}.`;
      problems.push({ scene: i, kind: 'incomplete', message, repeated, note: `scene ${n} repeats a sentence of scene ${sentenceAgain.j + 1}` });
    } else if (phraseAgain) {
      const repeated = phraseAgain.phrase!;
      const message = `Scene ${n} repeats the words "${repeated}" from scene ${phraseAgain.j + 1}.`;
      problems.push({ scene: i, kind: 'quality', barred: true, message, repeated, note: `scene ${n} repeats the words "${repeated}" of scene ${phraseAgain.j + 1}` });
    }
    const picture = spokenWords(scene.visualPrompt).join(' ');
    if (!picture) {
      problems.push({ scene: i, kind: 'quality', message: `Scene ${n} has no visualPrompt.`, note: `scene ${n} has no picture description` });
    } else if (picture === spokenWords(scene.narration).join(' ') || sharedPhrase(scene.visualPrompt, scene.narration)) {
      problems.push({
        scene: i,
        kind: 'quality',
        message: `Scene ${n}'s visualPrompt copies its narration; describe what the picture shows instead.`,
        note: `scene ${n}'s picture description repeats its narration instead of describing a picture`,
      });
    } else {
      const same = scenes.findIndex((other, j) => j < i && spokenWords(other.visualPrompt).join(' ') === picture);
      if (same >= 0) {
        const message = `Scene ${n} shows the same picture as scene ${same + 1}; describe a different one.`;
        problems.push({ scene: i, kind: 'quality', barred: true, message, note: `scene ${n} shows the same picture as scene ${same + 1}` });
      }
    }
  });
  return problems;
}

/** At most this many problems are named in a plan's notice; the rest are counted. */
const NOTICE_PROBLEMS = 2;

/**
 * The one sentence shown with a plan that still falls short after the rewrite rounds: what a
 * viewer would notice, and what the user can do about it. Undefined when nothing is wrong.
 */
export function planNotice(problems: Problem[]): string | undefined {
  if (!problems.length) return undefined;
  const named = problems.slice(0, NOTICE_PROBLEMS).map((p) => p.note);
  const more = problems.length - named.length;
  const list = more ? `${named.join(', ')} and ${more} more problem${more === 1 ? '' : 's'}` : named.join(' and ');
  const scene = problems.find((p) => p.scene !== undefined)?.scene;
  return `Still not right: ${list}; say "redo scene ${scene === undefined ? 'N' : scene + 1} ..." with what it should say, or approve it as it is.`;
}

/**
 * Whether a plan mentions its subject at all (at least one of its topic words, loosely matched).
 * A weak test, so it only measures (bench, tests): the planner does not retry on it.
 */
export function mentionsTopic(plan: { title: string; scenes: { narration: string; visualPrompt: string }[] }, topic: string): boolean {
  const subject = topicWords(topic);
  const heard = new Set(spokenWords([plan.title, ...plan.scenes.map((s) => `${s.narration} ${s.visualPrompt}`)].join(' ')));
  return subject.length === 0 || subject.some((w) => stemMatch(w, heard));
}

/** Figures of a finished plan against the acceptance bar (bench/plan.ts and the tests print/check them). */
export function planFigures(plan: { title: string; scenes: { narration: string; visualPrompt: string; seconds: number }[] }, topic: string) {
  const total = plan.scenes.reduce((n, s) => n + s.seconds, 0);
  const words = plan.scenes.reduce((n, s) => n + wordCount(s.narration), 0);
  const repeatedPhrases: string[] = [];
  plan.scenes.forEach((scene, i) =>
    plan.scenes.slice(0, i).forEach((other) => {
      const phrase = sharedPhrase(scene.narration, other.narration);
      if (phrase) repeatedPhrases.push(phrase);
    }),
  );
  const distinct = (texts: string[]) => new Set(texts.map((t) => spokenWords(t).join(' '))).size === texts.length;
  return {
    seconds: total,
    words,
    wordsPerSecond: total ? words / total : 0,
    distinctNarration: distinct(plan.scenes.map((s) => s.narration)),
    distinctPictures: distinct(plan.scenes.map((s) => s.visualPrompt)),
    repeatedPhrases,
    onTopic: mentionsTopic(plan, topic),
  };
}
