// Ollama through @langchain/ollama. Structured output uses Ollama's own `format` (a JSON Schema),
// passed per call; failures a user can fix become one UserError each.
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import type { BaseMessage } from '@langchain/core/messages';
import type { ChatGenerationChunk, ChatResult } from '@langchain/core/outputs';
import { ChatOllama, type ChatOllamaInput } from '@langchain/ollama';
import { isUserError, UserError } from '../../pipeline/errors.ts';
import { splitMaxLengths } from './jsonSchema.ts';
import type { JsonSchema, PlannerCallOptions } from './types.ts';

export const DEFAULT_OLLAMA_MODEL = 'qwen2.5:7b-instruct';

export function unreachableError(baseUrl: string, cause?: unknown): UserError {
  return new UserError(
    'llm.unreachable',
    `Ollama is not reachable at ${baseUrl}. Start it with \`ollama serve\`, or unset OLLAMA_BASE_URL to use the built-in model.`,
    { cause },
  );
}

export function modelMissingError(model: string, cause?: unknown): UserError {
  return new UserError('llm.modelMissing', `The model ${model} is not installed in Ollama. Run \`ollama pull ${model}\`.`, {
    cause,
  });
}

/** Ollama lists "qwen2.5:7b-instruct" as is and "llama3" as "llama3:latest". */
function sameModel(listed: string, wanted: string): boolean {
  return listed === wanted || listed === `${wanted}:latest` || `${listed}:latest` === wanted;
}

/** GET /api/tags: is the server up, and is the model pulled? Throws one UserError per failure. */
export async function checkOllama(
  baseUrl: string,
  model: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = 5000,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(new URL('/api/tags', baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw unreachableError(baseUrl, error);
  }
  if (!response.ok) throw unreachableError(baseUrl, new Error(`GET /api/tags answered ${response.status}`));
  let names: string[];
  try {
    const body = (await response.json()) as { models?: { name?: string; model?: string }[] };
    names = (body.models ?? []).flatMap((m) => [m.name, m.model]).filter((n): n is string => !!n);
  } catch (error) {
    throw unreachableError(baseUrl, error);
  }
  if (!names.some((name) => sameModel(name, model))) throw modelMissingError(model);
}

/** Errors from the ollama client during a chat -> the same UserErrors as the check gives. */
export function toUserError(error: unknown, baseUrl: string, model: string): unknown {
  if (isUserError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  const status = (error as { status_code?: number }).status_code;
  const text = error instanceof Error ? error.message : String(error);
  if (status === 404 && /not found/i.test(text)) return modelMissingError(model, error);
  const code = (error as { cause?: { code?: string } }).cause?.code;
  if (
    (error instanceof TypeError && /fetch failed/i.test(text)) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_SOCKET'].includes(code ?? '')
  ) {
    return unreachableError(baseUrl, error);
  }
  return error;
}

/**
 * ChatOllama, plus: `maxTokens` honoured as Ollama's num_predict, and client errors turned into
 * UserErrors. `format` is ChatOllama's own call option, so a JSON Schema reaches Ollama unchanged.
 */
export class SpinbotChatOllama extends ChatOllama {
  static override lc_name(): string {
    return 'SpinbotChatOllama';
  }

  constructor(fields: ChatOllamaInput & { model: string; baseUrl: string }) {
    super(fields);
  }

  override invocationParams(options?: this['ParsedCallOptions']): ReturnType<ChatOllama['invocationParams']> {
    const params = super.invocationParams(options);
    // Length bounds become {0,n} repetitions in llama.cpp-style grammars, which sample slowly;
    // the planner enforces lengths in code, so the schema goes without them.
    if (params.format && typeof params.format === 'object') params.format = splitMaxLengths(params.format as JsonSchema).schema;
    const { maxTokens, temperature, seed } = (options as PlannerCallOptions | undefined) ?? {};
    if (maxTokens !== undefined) params.options = { ...params.options, num_predict: maxTokens };
    if (temperature !== undefined) params.options = { ...params.options, temperature };
    if (seed !== undefined) params.options = { ...params.options, seed };
    return params;
  }

  override async _generate(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    try {
      return await super._generate(messages, options, runManager);
    } catch (error) {
      throw toUserError(error, this.baseUrl, this.model);
    }
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    try {
      yield* super._streamResponseChunks(messages, options, runManager);
    } catch (error) {
      throw toUserError(error, this.baseUrl, this.model);
    }
  }
}
