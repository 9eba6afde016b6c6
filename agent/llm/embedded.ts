// The built-in model: a GGUF file run in-process by node-llama-cpp, wrapped as a LangChain chat
// model so the agent cannot tell it from Ollama. Loaded lazily, once per process and model path.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseChatModel, type BaseChatModelParams } from '@langchain/core/language_models/chat_models';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import type { ChatHistoryItem, Llama, LlamaChat, LlamaGrammar, LlamaModel, TokenBias } from 'node-llama-cpp';
import { UserError } from '../../pipeline/errors.ts';
import { splitMaxLengths } from './jsonSchema.ts';
import type { PlannerCallOptions } from './types.ts';

export const DEFAULT_MODEL_PATH = fileURLToPath(
  new URL('../../.spinbot/models/gemma-3-270m-q4_k_m.gguf', import.meta.url),
);

export interface EmbeddedChatModelFields extends BaseChatModelParams {
  modelPath?: string;
  /** Offload to a GPU (SPINBOT_LLM_GPU=1). Off by default: llama.cpp would otherwise pick Mesa's software Vulkan. */
  gpu?: boolean;
  /** Low by default: a plan should not change much from one run to the next. */
  temperature?: number;
  seed?: number;
  contextSize?: number;
  /** CPU threads; defaults to the cores llama.cpp considers useful for math. */
  threads?: number;
  /** Default cap on generated tokens when the caller gives none. */
  maxTokens?: number;
  /**
   * Soft cap on each JSON string under a schema (a property's `maxLength` when the schema gives
   * one, else this): past it the closing quote is strongly favoured.
   * A small model sometimes loops inside one string ("a blue sky, a blue sky, ..."); a hard
   * maxLength in the grammar would stop that too but makes llama.cpp's grammar sampling crawl.
   */
  maxStringChars?: number;
}

/** Running totals, for bench/plan.ts and logs. */
export interface EmbeddedStats {
  calls: number;
  promptTokens: number;
  outputTokens: number;
  generationMs: number;
  loadMs: number;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  chat: LlamaChat;
  loadMs: number;
  /** Favours closing a JSON string (used past maxStringChars). */
  closeQuote: TokenBias;
  noBias: TokenBias;
  /** Grammars belong to one llama.cpp instance, so they are cached with it (by schema text). */
  grammars: Map<string, Promise<LlamaGrammar>>;
  /** One sequence evaluates at a time: calls from every model instance queue up here. */
  queue: Promise<unknown>;
}

// One loaded model per (path, gpu) per process: loading costs seconds and ~300 MB.
const loaded = new Map<string, Promise<Loaded>>();

/** Frees every loaded embedded model (tests and scripts call this before exiting). */
export async function disposeEmbeddedModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  for (const pending of all) {
    const { llama } = await pending.catch(() => ({ llama: undefined }));
    await llama?.dispose();
  }
}

export function missingModelError(modelPath: string): UserError {
  return new UserError(
    'setup.missing',
    `The built-in language model is not installed (${modelPath} is missing). Run \`npm start\` once to set it up, or set OLLAMA_BASE_URL to use Ollama.`,
  );
}

/** "gemma-3-270m-q4_k_m.gguf" -> "gemma-3-270m". */
export function modelNameFromPath(modelPath: string): string {
  return basename(modelPath)
    .replace(/\.gguf$/i, '')
    .replace(/[-.](q\d\w*|iq\d\w*|f16|f32|bf16)$/i, '');
}

export class EmbeddedChatModel extends BaseChatModel<PlannerCallOptions> {
  readonly modelPath: string;
  readonly gpu: boolean;
  temperature: number;
  seed: number;
  contextSize: number;
  threads?: number;
  maxTokens: number;
  maxStringChars: number;
  readonly stats: EmbeddedStats = { calls: 0, promptTokens: 0, outputTokens: 0, generationMs: 0, loadMs: 0 };

  static override lc_name(): string {
    return 'EmbeddedChatModel';
  }

  constructor(fields: EmbeddedChatModelFields = {}) {
    super(fields);
    this.modelPath = fields.modelPath ?? DEFAULT_MODEL_PATH;
    this.gpu = fields.gpu ?? false;
    this.temperature = fields.temperature ?? 0.2;
    this.seed = fields.seed ?? 42;
    this.contextSize = fields.contextSize ?? 4096;
    this.threads = fields.threads;
    this.maxTokens = fields.maxTokens ?? 1024;
    this.maxStringChars = fields.maxStringChars ?? 300;
  }

  _llmType(): string {
    return 'node-llama-cpp';
  }

  get label(): string {
    return `${modelNameFromPath(this.modelPath)} (embedded, ${this.gpu ? 'GPU' : 'CPU'})`;
  }

  /** Loads the model now (otherwise the first call does). Throws UserError 'setup.missing'. */
  async load(): Promise<void> {
    await this.loaded();
  }

  private loaded(): Promise<Loaded> {
    if (!existsSync(this.modelPath)) return Promise.reject(missingModelError(this.modelPath));
    const key = `${this.modelPath}\0${this.gpu}\0${this.contextSize}\0${this.threads ?? ''}`;
    let pending = loaded.get(key);
    if (!pending) {
      pending = loadModel(this.modelPath, this.gpu, this.contextSize, this.threads);
      pending.catch(() => loaded.delete(key)); // a failed load may succeed later (file appears)
      loaded.set(key, pending);
    }
    return pending;
  }

  private grammarFor({ llama, grammars }: Loaded, format: PlannerCallOptions['format']): Promise<LlamaGrammar> | undefined {
    if (format === undefined || format === '') return undefined;
    const key = typeof format === 'string' ? format : JSON.stringify(format);
    // maxLength is honoured softly (see maxStringChars): as GBNF bounds it makes sampling crawl.
    if (typeof format !== 'string') format = splitMaxLengths(format).schema;
    let grammar = grammars.get(key);
    if (!grammar) {
      grammar =
        typeof format === 'string'
          ? format === 'json'
            ? llama.getGrammarFor('json')
            : Promise.reject(new Error(`embedded model: unsupported format "${format}"`))
          : // The caller's schema must stay within node-llama-cpp's GBNF subset (see agent/schema.ts).
            llama.createGrammarForJsonSchema(format as Parameters<Llama['createGrammarForJsonSchema']>[0]);
      grammar.catch(() => grammars.delete(key));
      grammars.set(key, grammar);
    }
    return grammar;
  }

  async _generate(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    options.signal?.throwIfAborted();
    const shared = await this.loaded();
    const run = shared.queue.then(() => this.generateNow(shared, messages, options, runManager));
    shared.queue = run.catch(() => undefined);
    return run;
  }

  private async generateNow(
    shared: Loaded,
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    options.signal?.throwIfAborted();
    const { model, chat, loadMs, closeQuote, noBias } = shared;
    this.stats.loadMs = loadMs;
    const grammar = await this.grammarFor(shared, options.format);
    const history = toChatHistory(messages);
    const json = new JsonStringTracker();
    const maxLengths = typeof options.format === 'object' ? splitMaxLengths(options.format).maxLengths : {};
    const limit = () => {
      const property = json.property;
      return (property !== undefined ? maxLengths[property] : undefined) ?? this.maxStringChars;
    };
    let outputTokens = 0;
    const started = performance.now();
    const response = await chat.generateResponse(history, {
      ...(grammar ? { grammar } : {}),
      temperature: this.temperature,
      seed: this.seed,
      maxTokens: options.maxTokens ?? this.maxTokens,
      signal: options.signal,
      onToken: (tokens) => {
        outputTokens += tokens.length;
      },
      onTextChunk: (text) => {
        json.feed(text);
        void runManager?.handleLLMNewToken(text);
      },
      // Read before every sampled token; the grammar still decides which tokens are legal.
      tokenBias: grammar ? () => (json.stringChars >= limit() ? closeQuote : noBias) : undefined,
    });
    const generationMs = performance.now() - started;
    // Approximate: the message texts without the chat template's few control tokens.
    const promptTokens = messages.reduce((n, m) => n + model.tokenize(m.text).length, 0);
    this.stats.calls += 1;
    this.stats.promptTokens += promptTokens;
    this.stats.outputTokens += outputTokens;
    this.stats.generationMs += generationMs;
    const text = response.response;
    return {
      generations: [
        {
          text,
          message: new AIMessage({
            content: text,
            response_metadata: {
              model_provider: 'node-llama-cpp',
              model: modelNameFromPath(this.modelPath),
              stop_reason: response.metadata.stopReason,
              generation_ms: Math.round(generationMs),
              tokens_per_second: generationMs > 0 ? (outputTokens / generationMs) * 1000 : 0,
            },
            usage_metadata: {
              input_tokens: promptTokens,
              output_tokens: outputTokens,
              total_tokens: promptTokens + outputTokens,
            },
          }),
        },
      ],
    };
  }
}

async function loadModel(modelPath: string, gpu: boolean, contextSize: number, threads?: number): Promise<Loaded> {
  const started = performance.now();
  // Imported here so that Ollama users and unit tests never load the native addon.
  const { getLlama, LlamaChat, LlamaLogLevel, TokenBias } = await import('node-llama-cpp');
  const llama = await getLlama({
    gpu: gpu ? 'auto' : false,
    // Never compile llama.cpp at run time (no network, minutes of CPU): use the prebuilt binary.
    build: 'never',
    logLevel: LlamaLogLevel.error,
  });
  try {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({
      contextSize,
      threads: threads ?? llama.cpuMathCores,
    });
    const chat = new LlamaChat({ contextSequence: context.getSequence() });
    const closeQuote = new TokenBias(model.tokenizer).set('"', { logit: 20 });
    const noBias = new TokenBias(model.tokenizer);
    return {
      llama,
      model,
      chat,
      loadMs: performance.now() - started,
      closeQuote,
      noBias,
      grammars: new Map(),
      queue: Promise.resolve(),
    };
  } catch (error) {
    await llama.dispose().catch(() => undefined);
    throw error;
  }
}

/** LangChain messages -> node-llama-cpp chat history (the chat wrapper applies the model's template). */
function toChatHistory(messages: BaseMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    const text = message.text;
    const type = message.getType();
    if (type === 'system') history.push({ type: 'system', text });
    else if (type === 'ai') history.push({ type: 'model', response: [text] });
    else history.push({ type: 'user', text });
  }
  // generateResponse answers the last user turn; a history ending on a model turn would continue it.
  if (history.at(-1)?.type !== 'user') history.push({ type: 'user', text: '' });
  return history;
}

/** Follows generated JSON text just enough to know which string is being written, and its length. */
export class JsonStringTracker {
  private inString = false;
  private escaped = false;
  private isKey = false;
  private text = '';
  private lastKey: string | undefined;
  private lastSignificant = '';
  private containers: string[] = [];
  /** Characters in the JSON string currently open (0 outside strings). */
  stringChars = 0;

  /** The property whose value is the string being written (undefined for keys and array items). */
  get property(): string | undefined {
    return this.inString && !this.isKey ? this.lastKey : undefined;
  }

  feed(chunk: string): void {
    for (const ch of chunk) {
      if (!this.inString) {
        if (ch === '"') {
          this.inString = true;
          this.stringChars = 0;
          this.text = '';
          const inObject = this.containers.at(-1) === '{';
          this.isKey = inObject && (this.lastSignificant === '{' || this.lastSignificant === ',');
          if (!inObject) this.lastKey = undefined;
        } else if (ch === '{' || ch === '[') {
          this.containers.push(ch);
        } else if (ch === '}' || ch === ']') {
          this.containers.pop();
        }
        if (!/\s/.test(ch)) this.lastSignificant = ch;
      } else if (this.escaped) {
        this.escaped = false;
        this.stringChars += 1;
      } else if (ch === '\\') {
        this.escaped = true;
      } else if (ch === '"') {
        this.inString = false;
        if (this.isKey) this.lastKey = this.text;
        this.stringChars = 0;
        this.lastSignificant = '"';
      } else {
        this.stringChars += 1;
        if (this.isKey) this.text += ch;
      }
    }
  }
}
