// plan: the LLM step. Asks for {title, scenes[]} with exactly N scenes, the JSON Schema sent
// through the `format` call option that every provider honours (agent/llm/types.ts). Then the
// draft is reviewed in code (agent/nodes/review.ts) and every scene with a problem a viewer would
// notice - a repeated sentence, too few words, a picture that copies the narration, a scene cut
// off - is written again by the model with the problem named, while the planning time allows
// (planningBudgetMs; a missing or repeated scene always is). An answer without a single usable
// scene is retried whole once. A plan still missing a scene, or repeating itself in more than a
// third of its scenes, is refused with a sentence ('plan.invalid'); nothing is ever filled in for
// the model. Fewer copied scenes are shown with a notice naming them (the user redoes or approves).
import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { UserError } from '../../pipeline/errors.ts';
import type { PlannerCallOptions, PlannerChatModel } from '../llm/types.ts';
import { renderPrompt } from '../prompts.ts';
import { DraftScene, parseDraft, planJsonSchema, salvageDraft, sceneJsonSchema, type DraftPlan } from '../schema.ts';
import type { PlanBrief, PlannerContext, PlannerStateType, PlannerUpdate } from '../state.ts';
import { languageName } from '../voices.ts';
import { reviewDraft, sceneSeconds, topicWords, withoutSentence, wordCount, wordsAsked, type Problem } from './review.ts';

export const PROMPTS = { system: 'plan-system.v2', user: 'plan.v2', retry: 'plan-retry.v2', scene: 'plan-scene.v1' } as const;

/** Rounds of scene rewrites after the first draft (each rewrites only the scenes still wrong). */
export const REPAIR_ROUNDS = 2;

/**
 * Planning time after which a scene whose only problems are of polish (too few or too many words
 * for its time, a sentence cut short, a picture that repeats its narration) is no longer written
 * again: the plan is shown with those named in its notice, for the user to redo or approve. A scene
 * missing, or repeating another's sentence, phrase or picture, always is (mustRewrite). One second
 * per second of video, at least 20: measured near idle with the 1.5B on 2 cores, a first draft
 * takes 10-35 s and a rewrite 5-7 s; without a bound, 3 of 7 everyday prompts took 80-125 s, most
 * of it rewrites that fixed little.
 */
export function planningBudgetMs(brief: Pick<PlanBrief, 'seconds'>): number {
  return Math.max(20, brief.seconds) * 1000;
}

/** Narration words asked for per scene, from the scene's length (see review.ts). */
export function wordsPerScene(brief: PlanBrief): [number, number] {
  return wordsAsked(Math.floor(brief.seconds / brief.sceneCount));
}

/** Tokens for one scene's JSON: its narration, a picture, a caption and the keys. */
function sceneTokens(maxWords: number): number {
  return 70 + Math.ceil(maxWords * 2);
}

/** Enough tokens for a full answer (title, outline, scenes); a model that loops stops here instead of at the context's end. */
export function maxTokensFor(brief: PlanBrief): number {
  return 40 + brief.sceneCount * (15 + sceneTokens(wordsPerScene(brief)[1]));
}

/**
 * Narration characters per scene under the schema: about the words asked (~6 characters a word
 * with its space). A soft cap (see agent/llm/embedded.ts pastLimitBias): the sentence under way
 * ends, and the scene's length follows its words (review.ts timedSceneSeconds). Measured with the
 * 1.5B on bench/plan.ts's 7 prompts: at 9 characters a word plus 40, most first-draft scenes ran
 * to two or three sentences, past what their seconds hold; at 6 a word, 4 of the 7 first drafts
 * needed no rewrite at all.
 */
const narrationChars = (maxWords: number) => maxWords * 6;
/** The floor under a scene's narration in the grammar: about 4.5 characters a word (with its space). */
const minNarrationChars = (minWords: number) => Math.round(minWords * 4.5);

/** The schema of one scene written alone, for a scene of [minWords, maxWords] (a rewrite here, or one the user asks for). */
export function sceneFormat([minWords, maxWords]: [number, number]) {
  return sceneJsonSchema(narrationChars(maxWords), minNarrationChars(minWords));
}

/** Previous answers are shown back to the model on retry, but not at any length. */
const MAX_ECHO_CHARS = 1500;

function systemMessage(): SystemMessage {
  return new SystemMessage(renderPrompt(PROMPTS.system, {}));
}

export function planMessages(brief: PlanBrief): BaseMessage[] {
  const [minWords, maxWords] = wordsPerScene(brief);
  return [
    systemMessage(),
    new HumanMessage(
      renderPrompt(PROMPTS.user, {
        request: brief.prompt,
        seconds: brief.seconds,
        sceneCount: brief.sceneCount,
        sceneSeconds: Math.round(brief.seconds / brief.sceneCount),
        minWords,
        maxWords,
        languageName: languageName(brief.language),
      }),
    ),
  ];
}

type CallOptions = Pick<PlannerCallOptions, 'format' | 'maxTokens' | 'temperature' | 'seed' | 'avoid' | 'said' | 'unlike'>;

interface Asker {
  (messages: BaseMessage[], options: CallOptions): Promise<string>;
  calls: number;
}

function asker(model: PlannerChatModel, signal?: AbortSignal): Asker {
  const ask = (async (messages, options) => {
    ask.calls += 1;
    const answer = await model.invoke(messages, { ...options, ...(signal ? { signal } : {}) });
    return answer.text;
  }) as Asker;
  ask.calls = 0;
  return ask;
}

/**
 * The messages that ask for scene `index` again, with what was wrong with it. The other scenes are
 * shown so that it says something new - except those still waiting for their own rewrite, which a
 * small model would otherwise copy.
 */
export function sceneMessages(draft: DraftPlan, index: number, problems: Problem[], brief: PlanBrief, pending: Set<number> = new Set()): BaseMessage[] {
  const seconds = sceneSeconds(brief.seconds, brief.sceneCount);
  const [minWords, maxWords] = wordsAsked(seconds[index]!);
  const lines = Array.from({ length: brief.sceneCount }, (_, i) => {
    const scene = draft.scenes[i];
    if (i === index) return `Scene ${i + 1}: (to write again)`;
    if (!scene || pending.has(i)) return `Scene ${i + 1}: (not written yet)`;
    return `Scene ${i + 1} says: ${scene.narration}`;
  });
  // What this scene is about: its point in the outline, else what the video is about.
  const point = draft.outline?.[index]?.trim().replace(/[.!?]+$/, '') || brief.topic;
  return [
    systemMessage(),
    new HumanMessage(
      renderPrompt(PROMPTS.scene, {
        request: brief.prompt,
        seconds: brief.seconds,
        scenes: lines.join('\n'),
        sceneNumber: index + 1,
        point,
        problems: problems.map((p) => p.message).join(' '),
        minWords,
        maxWords,
        languageName: languageName(brief.language),
      }),
    ),
  ];
}

function parseScene(text: string): DraftScene | undefined {
  try {
    const parsed = DraftScene.safeParse(JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A picture is described, not the narration said again (the 0.5B model copies it otherwise); it may name the subject. */
export const pictureNotNarration = (brief: Pick<PlanBrief, 'topic'>) => ({ property: 'visualPrompt', of: 'narration', except: topicWords(brief.topic) });

/** Sampling for a rewrite: warmer than the first draft, and a new draw each round (the same draw would give the same scene). */
export const REWRITE_TEMPERATURE = 0.7;

/**
 * The scenes written again whatever the time: missing, empty, saying another scene's sentence or
 * 5-word phrase, or showing another scene's picture (what the script bar forbids outright).
 */
const mustRewrite = (problems: Problem[]) => new Set(problems.flatMap((p) => ((p.kind === 'incomplete' || p.barred) && p.scene !== undefined ? [p.scene] : [])));

/**
 * Each scene with a problem, written again by the model (those that must be first, then in scene
 * order, each seeing the finished others); past the deadline only those that must be.
 */
async function rewriteScenes(draft: DraftPlan, problems: Problem[], brief: PlanBrief, ask: Asker, round: number, deadline: number): Promise<DraftPlan> {
  const scenes = [...draft.scenes];
  const seconds = sceneSeconds(brief.seconds, brief.sceneCount);
  const must = mustRewrite(problems);
  const wrong = [...new Set(problems.flatMap((p) => (p.scene === undefined ? [] : [p.scene])))].sort((a, b) => Number(must.has(b)) - Number(must.has(a)) || a - b);
  // Shown to the rewrites as "not written yet": the scenes to be written again (past the deadline, only those that must be).
  const pending = new Set(wrong.filter((i) => must.has(i) || performance.now() <= deadline));
  const subject = new Set(topicWords(brief.topic));
  let lastRewriteMs = 0;
  for (const index of wrong) {
    // Written again now, or kept as it is: either way the scenes after it see its words.
    pending.delete(index);
    // A rewrite is started only if one as long as the last still ends before the deadline.
    if (!must.has(index) && performance.now() + lastRewriteMs > deadline) continue;
    const started = performance.now();
    const own = problems.filter((p) => p.scene === index);
    const words = wordsAsked(seconds[index]!);
    const messages = sceneMessages({ ...draft, scenes }, index, own, brief, pending);
    // The words said twice are made less likely, except the subject's own words.
    const avoid = own.flatMap((p) => (p.repeated ? [p.repeated.split(' ').filter((w) => !subject.has(w)).join(' ')] : []));
    const answer = await ask(messages, {
      format: sceneFormat(words),
      maxTokens: sceneTokens(words[1]),
      temperature: REWRITE_TEMPERATURE,
      seed: 1000 * (round + 1) + index,
      ...(avoid.length ? { avoid } : {}),
      said: scenes.filter((_, i) => i !== index).map((s) => s.narration),
      unlike: pictureNotNarration(brief),
    });
    const scene = parseScene(answer);
    // An unusable answer leaves the scene as it was: the next review names it again.
    if (scene && index <= scenes.length) scenes[index] = scene;
    lastRewriteMs = performance.now() - started;
  }
  return { ...draft, scenes };
}

/**
 * A scene that still says a sentence of an earlier scene after the rewrites loses that sentence
 * when it has others: the rest is new. (Measured: the 1.5B model wrote a whole 45 s plan and then
 * kept one sentence of scene 8 in scene 9 through every rewrite.) A scene with nothing else to say
 * keeps it: see MOST_COPIED_SCENES.
 */
function dropRepeatedSentences(draft: DraftPlan, problems: Problem[]): DraftPlan {
  const scenes = draft.scenes.map((scene, i) => {
    const repeats = problems.filter((p) => p.scene === i && p.kind === 'incomplete' && p.repeated);
    const rest = repeats.reduce((narration, p) => withoutSentence(narration, p.repeated!), scene.narration);
    return repeats.length && wordCount(rest) >= 3 ? { ...scene, narration: rest } : scene;
  });
  return { ...draft, scenes };
}

/**
 * How many scenes may still be a copy of another scene's sentence when the plan is shown (with the
 * notice naming them, so the user can redo them or approve): measured near idle with the 1.5B, 3 of
 * 7 everyday prompts had 2 such scenes of 6-12 after every rewrite and were refused after 100-200 s
 * of planning. More than a third copied is not a script; it is refused.
 */
const MOST_COPIED_SCENES = 1 / 3;

/** The sentence a user reads when the model could not write the plan. */
function refusal(detail: string): UserError {
  return new UserError('plan.invalid', "I couldn't write a complete script for that; try describing it differently, or ask for a shorter video.", {
    cause: new Error(detail),
  });
}

export interface DraftOutcome {
  draft: DraftPlan;
  llmCalls: number;
  /** What is still not right (never a missing scene, nor copies in over a third of the scenes: those are refused). */
  problems: Problem[];
}

export async function draftPlan(brief: PlanBrief, context: PlannerContext, signal?: AbortSignal): Promise<DraftOutcome> {
  await context.ready?.();
  const deadline = performance.now() + (context.budgetMs ?? planningBudgetMs(brief));
  const ask = asker(context.model, signal);
  const [minWords, maxWords] = wordsPerScene(brief);
  const format = planJsonSchema(brief.sceneCount, narrationChars(maxWords), minNarrationChars(minWords));
  const messages = planMessages(brief);
  const first = await ask(messages, { format, maxTokens: maxTokensFor(brief), unlike: pictureNotNarration(brief) });
  const firstResult = parseDraft(first);
  // A plan cut off at the token limit keeps its complete scenes; the rest are written one by one below.
  let draft = firstResult.ok ? firstResult.plan : salvageDraft(first);
  if (!draft) {
    const retry = [...messages, new AIMessage(first.slice(0, MAX_ECHO_CHARS)), new HumanMessage(renderPrompt(PROMPTS.retry, { error: (firstResult as { error: string }).error, sceneCount: brief.sceneCount }))];
    const second = await ask(retry, { format, maxTokens: maxTokensFor(brief), temperature: REWRITE_TEMPERATURE });
    const secondResult = parseDraft(second);
    draft = secondResult.ok ? secondResult.plan : salvageDraft(second);
    if (!draft) throw refusal(`model answers failed validation twice: ${(firstResult as { error: string }).error} / ${(secondResult as { error: string }).error}`);
  }
  for (let round = 0; round < REPAIR_ROUNDS; round++) {
    const sceneProblems = reviewDraft(draft, brief).filter((p) => p.scene !== undefined);
    if (!sceneProblems.length || (performance.now() > deadline && !mustRewrite(sceneProblems).size)) break;
    draft = await rewriteScenes(draft, sceneProblems, brief, ask, round, deadline);
  }
  draft = dropRepeatedSentences(draft, reviewDraft(draft, brief));
  const problems = reviewDraft(draft, brief);
  const missing = problems.filter((p) => p.kind === 'incomplete' && !p.repeated);
  const copied = problems.filter((p) => p.kind === 'incomplete' && p.repeated);
  if (missing.length || copied.length > brief.sceneCount * MOST_COPIED_SCENES) {
    throw refusal(`after ${ask.calls} model calls: ${[...missing, ...copied].map((p) => p.message).join(' ')}`);
  }
  return { draft, llmCalls: ask.calls, problems };
}

export async function plan(state: PlannerStateType, config: LangGraphRunnableConfig<PlannerContext>): Promise<PlannerUpdate> {
  const brief = state.brief;
  if (!brief) throw new Error('plan node ran before understand');
  const context = config.context;
  if (!context?.model) throw new Error('planner: no chat model in the run context (pass { context: { model } })');
  const { draft, llmCalls, problems } = await draftPlan(brief, context, config.signal);
  return { draft, llmCalls, problems };
}
