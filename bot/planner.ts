// The planner as front-ends see it: validate a request cheaply (before any worker or queue is
// touched), then plan it with whichever model the configuration selects.
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { planVideo, type PlanRequest } from '../agent/graph.ts';
import { createChatModel } from '../agent/llm/index.ts';
import type { PlannerChatModel } from '../agent/llm/types.ts';
import { understandRequest } from '../agent/nodes/understand.ts';
import { recordPlan, secondsSince } from '../metrics/index.ts';
import { isUserError } from '../pipeline/errors.ts';
import type { Config } from './config.ts';

export type { PlanRequest } from '../agent/graph.ts';

export interface Planner {
  /** e.g. "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded, CPU)" */
  label: string;
  /** The planner model's licence from setup/models.json (embedded models; undefined for Ollama), for the licences line. */
  licence?: string;
  /** Why the model is not the one asked for (e.g. the default one missing from the cache), for the start-up line. */
  note?: string;
  /** Throws a UserError for bad input; never calls the model. */
  validate(request: PlanRequest): void;
  plan(request: PlanRequest): Promise<ScriptPlan>;
  /** The chat model behind it: the conversation routes messages and rewrites scenes with it too. */
  llm: { model: PlannerChatModel; ready?: () => Promise<void> };
}

export function createPlanner(config: Config): Planner {
  // The model loads lazily on the first plan, so a refused request costs nothing.
  const handle = createChatModel({ ...process.env, OLLAMA_BASE_URL: config.OLLAMA_BASE_URL, OLLAMA_MODEL: config.OLLAMA_MODEL });
  return {
    label: handle.label,
    ...(handle.licence ? { licence: handle.licence } : {}),
    ...(handle.note ? { note: handle.note } : {}),
    validate: (request) => void understandRequest(request),
    async plan(request) {
      const started = performance.now();
      try {
        const plan = await planVideo(request, handle);
        recordPlan(handle.label, 'ok', secondsSince(started));
        return plan;
      } catch (error) {
        recordPlan(handle.label, isUserError(error) && error.id === 'plan.invalid' ? 'invalid' : 'error', secondsSince(started));
        throw error;
      }
    },
    llm: handle,
  };
}
