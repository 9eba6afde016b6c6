// plan: the one LLM step. Asks for {title, scenes[]} with exactly N scenes, the JSON Schema sent
// through the `format` call option that every provider honours (agent/llm/types.ts). An answer
// that fails validation is retried once with the error fed back; a second failure is the user's
// 'plan.invalid'. Lengths and counts are not judged here: the enforce node fixes them in code.
import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import { UserError } from '../../pipeline/errors.ts';
import type { PlannerChatModel } from '../llm/types.ts';
import { renderPrompt } from '../prompts.ts';
import { parseDraft, planJsonSchema, salvageDraft, type DraftPlan } from '../schema.ts';
import type { PlanBrief, PlannerContext, PlannerStateType, PlannerUpdate } from '../state.ts';
import { languageName } from '../voices.ts';

export const PROMPTS = { system: 'plan-system.v1', user: 'plan.v1', retry: 'plan-retry.v1' } as const;

/** Words asked for per scene: a little under the hard cap, which is enforced later anyway. */
export function wordsPerScene(brief: PlanBrief): number {
  const sceneSeconds = brief.seconds / brief.sceneCount;
  return Math.max(4, Math.floor(sceneSeconds * LIMITS.maxWordsPerSecond * 0.8));
}

/** Enough tokens for a full answer; a small model that loops stops here instead of at the context's end. */
export function maxTokensFor(brief: PlanBrief): number {
  return 64 + brief.sceneCount * (40 + wordsPerScene(brief) * 3);
}

/** Previous answers are shown back to the model on retry, but not at any length. */
const MAX_ECHO_CHARS = 1500;

export function planMessages(brief: PlanBrief): BaseMessage[] {
  return [
    new SystemMessage(renderPrompt(PROMPTS.system, {})),
    new HumanMessage(
      renderPrompt(PROMPTS.user, {
        seconds: brief.seconds,
        sceneCount: brief.sceneCount,
        maxWords: wordsPerScene(brief),
        languageName: languageName(brief.language),
        request: brief.prompt,
      }),
    ),
  ];
}

async function ask(model: PlannerChatModel, messages: BaseMessage[], brief: PlanBrief, signal?: AbortSignal) {
  const answer = await model.invoke(messages, {
    // ~8 characters a word: room for the sentence asked for, not for a loop.
    format: planJsonSchema(brief.sceneCount, wordsPerScene(brief) * 8),
    maxTokens: maxTokensFor(brief),
    ...(signal ? { signal } : {}),
  });
  return answer.text;
}

export async function draftPlan(
  brief: PlanBrief,
  context: PlannerContext,
  signal?: AbortSignal,
): Promise<{ draft: DraftPlan; llmCalls: number }> {
  await context.ready?.();
  const messages = planMessages(brief);
  const first = await ask(context.model, messages, brief, signal);
  const firstResult = parseDraft(first);
  if (firstResult.ok) return { draft: firstResult.plan, llmCalls: 1 };

  const retry = [
    ...messages,
    new AIMessage(first.slice(0, MAX_ECHO_CHARS)),
    new HumanMessage(renderPrompt(PROMPTS.retry, { error: firstResult.error, sceneCount: brief.sceneCount })),
  ];
  const second = await ask(context.model, retry, brief, signal);
  const secondResult = parseDraft(second);
  if (secondResult.ok) return { draft: secondResult.plan, llmCalls: 2 };
  // Both cut off or broken: the complete scenes of a cut-off answer still make a plan (enforce
  // fills the rest) - better than refusing after minutes of CPU generation.
  const salvaged = salvageDraft(second) ?? salvageDraft(first);
  if (salvaged) return { draft: salvaged, llmCalls: 2 };
  throw new UserError('plan.invalid', "I couldn't turn that into a video plan; try rephrasing it more simply.", {
    cause: new Error(`model answers failed validation twice: ${firstResult.error} / ${secondResult.error}`),
  });
}

export async function plan(
  state: PlannerStateType,
  config: LangGraphRunnableConfig<PlannerContext>,
): Promise<PlannerUpdate> {
  const brief = state.brief;
  if (!brief) throw new Error('plan node ran before understand');
  const context = config.context;
  if (!context?.model) throw new Error('planner: no chat model in the run context (pass { context: { model } })');
  const { draft, llmCalls } = await draftPlan(brief, context, config.signal);
  return { draft, llmCalls };
}
