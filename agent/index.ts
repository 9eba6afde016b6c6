// The agent's public surface, for the CLI, the chat front-ends and the pipeline.
export { graph, createPlannerGraph, planVideo, type PlanOptions } from './graph.ts';
export type { PlanBrief, PlannerContext, PlanRequest } from './state.ts';
export { createChatModel, disposeEmbeddedModels, type ChatModelHandle, type LlmEnv } from './llm/index.ts';
export { understandRequest, parseDurationSeconds } from './nodes/understand.ts';
