// The planner: understand (code) -> plan (LLM) -> enforce (code). `graph` is the compiled graph;
// `planVideo` is the one call the CLI, the chat front-ends and the pipeline need.
// The conversation around it (intents, approval, refine) is agent/conversation/.
import { END, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph';
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { enforce } from './nodes/enforce.ts';
import { plan } from './nodes/plan.ts';
import { presenter } from './nodes/presenter.ts';
import { understand } from './nodes/understand.ts';
import { PlannerContextSchema, PlannerState, type PlannerContext, type PlanRequest } from './state.ts';

export type { PlanRequest, PlanBrief, PlannerContext } from './state.ts';

export function buildPlannerGraph() {
  return new StateGraph(PlannerState, PlannerContextSchema)
    .addNode('understand', understand)
    .addNode('plan', plan)
    .addNode('enforce', enforce)
    .addNode('presenter', presenter)
    .addEdge(START, 'understand')
    .addEdge('understand', 'plan')
    .addEdge('plan', 'enforce')
    .addEdge('enforce', 'presenter')
    .addEdge('presenter', END);
}

export function createPlannerGraph(options: { checkpointer?: BaseCheckpointSaver | false } = {}) {
  return buildPlannerGraph().compile({ ...options, name: 'planner' });
}

/**
 * The compiled planner. Run it with `{ context: { model, ready } }`. Never checkpointed, also when
 * the conversation graph runs it inside a node: a plan is made in one go or not at all.
 */
export const graph = createPlannerGraph({ checkpointer: false });

export interface PlanOptions {
  signal?: AbortSignal;
}

/**
 * Turns a request into a ScriptPlan that passes the contract. `deps` is what createChatModel()
 * returns (or any { model, ready? }). Throws UserError (prompt.empty, prompt.tooLong,
 * seconds.outOfRange, language.invalid, voice.nameInvalid, plan.invalid, llm.unreachable,
 * llm.modelMissing, setup.missing); anything else is a bug or an outage to log.
 */
export async function planVideo(request: PlanRequest, deps: PlannerContext, options: PlanOptions = {}): Promise<ScriptPlan> {
  const context = { model: deps.model, ready: deps.ready, budgetMs: deps.budgetMs };
  const state = await graph.invoke({ request }, { context, ...(options.signal ? { signal: options.signal } : {}) });
  if (!state.scriptPlan) throw new Error('planner finished without a plan');
  return state.scriptPlan;
}
