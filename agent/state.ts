// The planner graph's state and its run-time context (the chat model, passed per run).
import { Annotation } from '@langchain/langgraph';
import type { Aspect, ScriptPlan, Voice } from '../gpu-bridge/contracts/index.ts';
import type { PlannerChatModel } from './llm/types.ts';
import type { Problem } from './nodes/review.ts';
import type { DraftPlan } from './schema.ts';

/** What a user (or a slash command) asks for. */
export interface PlanRequest {
  prompt: string;
  /** Total length; parsed from the prompt when absent ("a 20 second ..."), else 30. */
  seconds?: number;
  /** Narration language tag, e.g. "en" or "pt-br"; default "en". */
  language?: string;
  /** espeak-ng voice name; default from the language. */
  voiceId?: string;
  /** Visual style; else read from the prompt ("in watercolour style"), else none. */
  style?: string;
  /** Frame shape; else read from the prompt ("vertical", "square"), else 16:9. */
  aspect?: Aspect;
  /** Music bed; else read from the prompt ("with music", "no music"), else on. */
  music?: boolean;
  /** The talking presenter: 'me' (presenterKey, the user's checked portrait), the built-in 'character', or 'none'; else read from the prompt. */
  presenter?: 'none' | 'me' | 'character';
  presenterKey?: string;
  /** Moving pictures in some scenes; else read from the prompt ("with motion"), else off. */
  motion?: boolean;
}

/** The request after validation: every number here is already within LIMITS. */
export interface PlanBrief {
  /** The user's prompt, trimmed. */
  prompt: string;
  /** The subject without the length and "make a video" words, for fallbacks ("why the sky is blue"). */
  topic: string;
  seconds: number;
  sceneCount: number;
  language: string;
  voice: Voice;
  style: string;
  aspect: Aspect;
  music: boolean;
  /** 'me' only with a presenterKey (understand falls back to the built-in character without one). */
  presenter?: 'none' | 'me' | 'character';
  presenterKey?: string;
  motion?: boolean;
}

export const PlannerState = Annotation.Root({
  request: Annotation<PlanRequest>,
  brief: Annotation<PlanBrief | undefined>,
  /** The model's validated answer (before caps are enforced). */
  draft: Annotation<DraftPlan | undefined>,
  /** Model calls made for this plan (1, more after a retry or scene rewrites). */
  llmCalls: Annotation<number | undefined>,
  /** What the review still found wrong with the draft (quality only; a missing or repeated scene is refused). */
  problems: Annotation<Problem[] | undefined>,
  scriptPlan: Annotation<ScriptPlan | undefined>,
});
export type PlannerStateType = typeof PlannerState.State;
export type PlannerUpdate = typeof PlannerState.Update;

/** Dependencies for one run, passed as LangGraph's `context` (not part of the checkpointed state). */
export const PlannerContextSchema = Annotation.Root({
  model: Annotation<PlannerChatModel>,
  /** Provider check before the first model call (Ollama reachable, model pulled / file present). */
  ready: Annotation<(() => Promise<void>) | undefined>,
  budgetMs: Annotation<number | undefined>,
});
export interface PlannerContext {
  model: PlannerChatModel;
  ready?: () => Promise<void>;
  /** Planning time after which scenes are no longer rewritten for quality alone (default: plan.ts planningBudgetMs). */
  budgetMs?: number;
}
