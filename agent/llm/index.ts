// Picks the chat model from the environment: Ollama when OLLAMA_BASE_URL is set, else the
// embedded GGUF model. Both sit behind the same LangChain interface (see types.ts).
import { chooseEmbeddedModel, EmbeddedChatModel } from './embedded.ts';
import { checkOllama, DEFAULT_OLLAMA_MODEL, SpinbotChatOllama } from './ollama.ts';
import type { ChatModelHandle } from './types.ts';

export type { ChatModelHandle, JsonSchema, PlannerCallOptions, PlannerChatModel } from './types.ts';
export { chooseEmbeddedModel, disposeEmbeddedModels, EmbeddedChatModel, PLANNER_MODELS } from './embedded.ts';
export { checkOllama, SpinbotChatOllama } from './ollama.ts';

export type LlmEnv = Record<string, string | undefined>;

/** Runs `check` until it first succeeds; a failure is retried on the next call (e.g. after `ollama serve`). */
function onceSucceeded(check: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= check().catch((error: unknown) => {
      done = undefined;
      throw error;
    });
    return done;
  };
}

function nonNegativeInt(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function createChatModel(env: LlmEnv = process.env): ChatModelHandle {
  const baseUrl = env.OLLAMA_BASE_URL?.trim();
  if (baseUrl) {
    const modelName = env.OLLAMA_MODEL?.trim() || DEFAULT_OLLAMA_MODEL;
    const model = new SpinbotChatOllama({
      baseUrl,
      model: modelName,
      temperature: 0.2,
      seed: 42,
      // A plan is a few hundred tokens; a bigger window than Ollama's default keeps a retry in context.
      numCtx: 8192,
    });
    return {
      // ChatOllama honours `format` itself and `maxTokens` through the subclass.
      model,
      label: `ollama ${modelName}`,
      ready: onceSucceeded(() => checkOllama(baseUrl, modelName)),
    };
  }
  const chosen = chooseEmbeddedModel(env);
  const model = new EmbeddedChatModel({
    modelPath: chosen.path,
    modelName: chosen.name,
    ...(chosen.id ? { modelId: chosen.id } : {}),
    gpu: env.SPINBOT_LLM_GPU === '1',
    seed: nonNegativeInt(env.SPINBOT_LLM_SEED),
    threads: nonNegativeInt(env.SPINBOT_LLM_THREADS),
  });
  return {
    model,
    label: model.label,
    ...(chosen.licence ? { licence: chosen.licence } : {}),
    ...(chosen.note ? { note: chosen.note } : {}),
    ready: onceSucceeded(() => model.load()),
  };
}
