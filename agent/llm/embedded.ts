// The built-in model: a GGUF file run in-process by node-llama-cpp, wrapped as a LangChain chat
// model so the agent cannot tell it from Ollama. Loaded lazily, once per process and model path.
// The chat template is the model's own (node-llama-cpp reads it from the GGUF: ChatML for Qwen).
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BaseChatModel, type BaseChatModelParams } from '@langchain/core/language_models/chat_models';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import type { ChatHistoryItem, Llama, LlamaChat, LlamaGrammar, LlamaModel, Token, TokenBias } from 'node-llama-cpp';
import { UserError } from '../../pipeline/errors.ts';
import { modelInfo, modelPath as cachedModelPath, modelReady } from '../../setup/models.mjs';
import { splitMaxLengths, withoutMinLengths } from './jsonSchema.ts';
import type { PlannerCallOptions } from './types.ts';

/** Registry ids (setup/models.json) of the planner models: the default, and the fast one (SPINBOT_MODEL=small). */
export const PLANNER_MODELS = { default: 'qwen2.5-coder-1.5b', small: 'qwen2.5-coder-0.5b' } as const;

export interface EmbeddedModelChoice {
  path: string;
  /** e.g. "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"; the file name when SPINBOT_MODEL_PATH names a file. */
  name: string;
  /** From setup/models.json; undefined for a file named by SPINBOT_MODEL_PATH. */
  licence?: string;
  /** The registry id, when the model comes from the cache. */
  id?: string;
  /** Why this one and not the one asked for (the default model missing from the cache). */
  note?: string;
}

/**
 * Which GGUF file the embedded planner runs: SPINBOT_MODEL_PATH when set, else the cached
 * registry model that SPINBOT_MODEL names ("small", or "default" when unset); the default falls
 * back to the small one when only that is cached (set-up could not fetch the big one).
 */
export function chooseEmbeddedModel(env: Record<string, string | undefined> = process.env): EmbeddedModelChoice {
  const path = env.SPINBOT_MODEL_PATH?.trim();
  if (path) return { path, name: modelNameFromPath(path) };
  const asked = env.SPINBOT_MODEL?.trim().toLowerCase() || 'default';
  if (asked !== 'default' && asked !== 'small') {
    throw new UserError('setup.modelInvalid', `SPINBOT_MODEL must be "small" or "default" (or unset); it is "${env.SPINBOT_MODEL}".`);
  }
  const fromCache = (id: string, note?: string): EmbeddedModelChoice => {
    const info = modelInfo(id);
    // "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)" -> "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"
    const name = info.name.replace(/\s*\(([^()]*)\)$/, ' $1');
    return { path: cachedModelPath(id, undefined, env), name, licence: info.licence, id, ...(note ? { note } : {}) };
  };
  const wanted = PLANNER_MODELS[asked];
  if (asked === 'default' && !modelReady(wanted, env) && modelReady(PLANNER_MODELS.small, env)) {
    return fromCache(PLANNER_MODELS.small, `${wanted} is not in the model cache`);
  }
  return fromCache(wanted);
}

export interface EmbeddedChatModelFields extends BaseChatModelParams {
  /** The GGUF file; default: chooseEmbeddedModel()'s. */
  modelPath?: string;
  /** Shown in labels; default: from the file name. */
  modelName?: string;
  /** The registry id, named in the message when the file is missing. */
  modelId?: string;
  /** Offload to a GPU (SPINBOT_LLM_GPU=1). Off by default: llama.cpp would otherwise pick Mesa's software Vulkan. */
  gpu?: boolean;
  /** Low by default: a plan should not change much from one run to the next. */
  temperature?: number;
  seed?: number;
  contextSize?: number;
  /**
   * CPU threads. Unset: the cores llama.cpp considers useful for math, less the cores other
   * processes keep busy when a generation starts (see threadsFor).
   */
  threads?: number;
  /** Default cap on generated tokens when the caller gives none. */
  maxTokens?: number;
  /** What the model needs to write a plan that meets the bar; default: its entry in PLANNING_AIDS, else none. */
  aids?: PlanningAids;
  /**
   * Soft cap on each JSON string under a schema (a property's `maxLength` when the schema gives
   * one, else this): past it the closing quote is strongly favoured.
   * A small model sometimes loops inside one string ("a blue sky, a blue sky, ..."); a hard
   * maxLength in the grammar would stop that too but makes llama.cpp's grammar sampling crawl.
   */
  maxStringChars?: number;
}

export interface RepeatPenalty {
  lastTokens: number;
  penalty: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

/** What a model needs beyond its prompt to write a plan that meets the bar, measured per model. */
export interface PlanningAids {
  /** node-llama-cpp's penalty on the tokens of the answer so far; else node-llama-cpp's default (last 64 tokens, 1.1). */
  repeatPenalty?: RepeatPenalty;
  /** The repeat penalty also counts the `said` call option (the other scenes' words, when one is rewritten). */
  penaliseSaid?: boolean;
  /** The schema's minLength floors are kept in the grammar (else dropped). */
  lengthFloors?: boolean;
  /** The `unlike` call option is applied (else ignored). */
  unlike?: boolean;
}

/**
 * Aids per registry model (BENCHMARKS.md). The 0.5B model wrote one sentence in every scene and
 * copied the other scenes' sentences back when a scene was written again, wrote 4-word scenes and
 * copied a scene's narration as its picture; with all the aids it wrote the sky and coffee plans
 * to the bar. The 1.5B's first drafts, without aids, said one sentence in most scenes of a plan
 * (41 of 45 first-draft scenes of bench/plan.ts's 7 prompts had a problem); a milder penalty on
 * its own answer and the floors brought that to 15 of 45. Counting the other scenes' words as said
 * in its rewrites, or the picture bias, made its sentences stop short ("... an hour before."), and
 * sparing function words from the penalty brought the repeats back (6 of 7 plans with a notice).
 * (node-llama-cpp 3.22's dryRepeatPenalty was tried first on the 0.5B: it changed no token.)
 */
export const PLANNING_AIDS: Partial<Record<string, PlanningAids>> = {
  [PLANNER_MODELS.default]: { repeatPenalty: { lastTokens: 512, penalty: 1.15, presencePenalty: 0.3 }, lengthFloors: true },
  [PLANNER_MODELS.small]: { repeatPenalty: { lastTokens: 512, penalty: 1.3, presencePenalty: 0.5 }, penaliseSaid: true, lengthFloors: true, unlike: true },
};

/** Running totals, for bench/plan.ts and logs. */
export interface EmbeddedStats {
  calls: number;
  promptTokens: number;
  outputTokens: number;
  generationMs: number;
  /** Of generationMs, the time before the first answer token: reading the prompt (what the context did not hold already). */
  promptMs: number;
  loadMs: number;
  /** Threads the last generation ran on. */
  threads: number;
}

interface Loaded {
  lib: typeof import('node-llama-cpp');
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

export function missingModelError(modelPath: string, modelId?: string): UserError {
  const fetch = modelId ? ` (or \`node setup/models.mjs fetch ${modelId}\`)` : '';
  return new UserError(
    'setup.missing',
    `The built-in language model is not installed (${modelPath} is missing). Run \`npm start\` once to set it up${fetch}, or set OLLAMA_BASE_URL to use Ollama.`,
  );
}

/** "qwen2.5-0.5b-instruct-q4_k_m.gguf" -> "qwen2.5-0.5b-instruct". */
export function modelNameFromPath(modelPath: string): string {
  return basename(modelPath)
    .replace(/\.gguf$/i, '')
    .replace(/[-.](q\d\w*|iq\d\w*|f16|f32|bf16)$/i, '');
}

// Settings node-llama-cpp parses from the environment when it is first imported; a value it cannot
// parse (CI set but empty, as some runners and shells leave it) makes the import itself throw, and
// a failed ES module import is never retried. Such values are hidden from it while it loads.
const LLAMA_ENV = /^(?:CI|COLAB_RELEASE_TAG|NODE_LLAMA_CPP_\w+|npm_config_node_llama_cpp_\w+)$/;
const BOOLEAN_ENV = new Set(['CI', 'NODE_LLAMA_CPP_DEBUG', 'NODE_LLAMA_CPP_SKIP_DOWNLOAD']);
const BOOLEAN_VALUES = new Set(['true', 'false', 'TRUE', 'FALSE', '1', '0']);

/** The environment keys node-llama-cpp would refuse at import: empty, or not a boolean where one is read. */
export function unparsableLlamaEnv(env: Record<string, string | undefined>): string[] {
  return Object.keys(env).filter((key) => {
    const value = env[key];
    if (!LLAMA_ENV.test(key) || value === undefined) return false;
    return value.trim() === '' || (BOOLEAN_ENV.has(key) && !BOOLEAN_VALUES.has(value));
  });
}

/**
 * Runs `load` (importing node-llama-cpp and starting llama.cpp) with those values hidden: the
 * import parses them, and so does the child process getLlama() starts to test its binary (where
 * one would make it report "no binary found"). They are back in the environment afterwards.
 */
export async function withLlamaSafeEnv<T>(load: () => Promise<T>): Promise<T> {
  const hidden: Record<string, string> = {};
  for (const key of unparsableLlamaEnv(process.env)) {
    hidden[key] = process.env[key]!;
    delete process.env[key];
  }
  try {
    return await load();
  } finally {
    Object.assign(process.env, hidden);
  }
}

export class EmbeddedChatModel extends BaseChatModel<PlannerCallOptions> {
  readonly modelPath: string;
  readonly modelName: string;
  readonly modelId?: string;
  readonly gpu: boolean;
  temperature: number;
  seed: number;
  contextSize: number;
  threads?: number;
  maxTokens: number;
  maxStringChars: number;
  readonly aids: PlanningAids;
  readonly stats: EmbeddedStats = { calls: 0, promptTokens: 0, outputTokens: 0, generationMs: 0, promptMs: 0, loadMs: 0, threads: 0 };

  static override lc_name(): string {
    return 'EmbeddedChatModel';
  }

  constructor(fields: EmbeddedChatModelFields = {}) {
    super(fields);
    const chosen = fields.modelPath ? undefined : chooseEmbeddedModel();
    this.modelPath = fields.modelPath ?? chosen!.path;
    this.modelName = fields.modelName ?? chosen?.name ?? modelNameFromPath(this.modelPath);
    this.modelId = fields.modelId ?? chosen?.id;
    this.gpu = fields.gpu ?? false;
    this.temperature = fields.temperature ?? 0.2;
    this.seed = fields.seed ?? 42;
    this.contextSize = fields.contextSize ?? 4096;
    this.threads = fields.threads;
    this.maxTokens = fields.maxTokens ?? 1024;
    this.maxStringChars = fields.maxStringChars ?? 300;
    this.aids = fields.aids ?? (this.modelId ? PLANNING_AIDS[this.modelId] : undefined) ?? {};
  }

  _llmType(): string {
    return 'node-llama-cpp';
  }

  get label(): string {
    return `${this.modelName} (embedded, ${this.gpu ? 'GPU' : 'CPU'})`;
  }

  /** Loads the model now (otherwise the first call does). Throws UserError 'setup.missing'. */
  async load(): Promise<void> {
    await this.loaded();
  }

  private loaded(): Promise<Loaded> {
    if (!existsSync(this.modelPath)) return Promise.reject(missingModelError(this.modelPath, this.modelId));
    const key = `${this.modelPath}\0${this.gpu}\0${this.contextSize}\0${this.threads ?? ''}`;
    let pending = loaded.get(key);
    if (!pending) {
      pending = loadModel(this.modelPath, this.gpu, this.contextSize, this.threads);
      pending.catch(() => loaded.delete(key)); // a failed load may succeed later (file appears)
      loaded.set(key, pending);
    }
    return pending;
  }

  private grammarFor({ llama, lib, grammars }: Loaded, format: PlannerCallOptions['format']): Promise<LlamaGrammar> | undefined {
    if (format === undefined || format === '') return undefined;
    if (typeof format === 'object' && !this.aids.lengthFloors) format = withoutMinLengths(format);
    const key = typeof format === 'string' ? format : JSON.stringify(format);
    let grammar = grammars.get(key);
    if (!grammar) {
      grammar =
        typeof format === 'string'
          ? format === 'json'
            ? llama.getGrammarFor('json')
            : Promise.reject(new Error(`embedded model: unsupported format "${format}"`))
          : compactJsonGrammar(llama, lib, format);
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
    if (this.threads === undefined) {
      // Applies from the next batch llama.cpp evaluates (node-llama-cpp splits threads per batch).
      shared.llama.maxThreads = threadsFor(shared.llama.cpuMathCores, await otherRunnableProcesses());
    }
    this.stats.threads = shared.llama.maxThreads;
    const avoid = options.avoid?.length ? avoidBias(shared, options.avoid) : noBias;
    // While `unlike.property` is written, the words of the `unlike.of` value just written are far less likely.
    const unlikeBiases = new Map<string, TokenBias>();
    const unlikeBias = (): TokenBias | undefined => {
      const unlike = this.aids.unlike ? options.unlike : undefined;
      const copied = unlike && json.property === unlike.property ? json.lastValues[unlike.of] : undefined;
      if (!copied) return undefined;
      let bias = unlikeBiases.get(copied);
      if (!bias) unlikeBiases.set(copied, (bias = avoidBias(shared, [copied], UNLIKE_LOGIT, unlike!.except)));
      return bias;
    };
    // What other scenes already say counts as said in this answer too (with the repeat penalty on).
    const { repeatPenalty, penaliseSaid } = this.aids;
    const said = repeatPenalty && penaliseSaid && options.said?.length ? model.tokenize(options.said.join(' ')) : [];
    let outputTokens = 0;
    let firstTokenAt: number | undefined;
    const started = performance.now();
    const response = await chat.generateResponse(history, {
      ...(grammar ? { grammar } : {}),
      temperature: options.temperature ?? this.temperature,
      seed: options.seed ?? this.seed,
      maxTokens: options.maxTokens ?? this.maxTokens,
      signal: options.signal,
      onToken: (tokens) => {
        firstTokenAt ??= performance.now();
        outputTokens += tokens.length;
      },
      onTextChunk: (text) => {
        json.feed(text);
        void runManager?.handleLLMNewToken(text);
      },
      // Read before every sampled token; the grammar still decides which tokens are legal.
      tokenBias: grammar ? () => pastLimitBias(json, limit(), closeQuote) ?? unlikeBias() ?? avoid : undefined,
      ...(repeatPenalty ? { repeatPenalty: { ...repeatPenalty, punishTokensFilter: (tokens: Token[]) => (said.length ? [...tokens, ...said] : tokens) } } : {}),
    });
    const generationMs = performance.now() - started;
    // Approximate: the message texts without the chat template's few control tokens.
    const promptTokens = messages.reduce((n, m) => n + model.tokenize(m.text).length, 0);
    this.stats.calls += 1;
    this.stats.promptTokens += promptTokens;
    this.stats.outputTokens += outputTokens;
    this.stats.generationMs += generationMs;
    this.stats.promptMs += (firstTokenAt ?? performance.now()) - started;
    const text = response.response;
    return {
      generations: [
        {
          text,
          message: new AIMessage({
            content: text,
            response_metadata: {
              model_provider: 'node-llama-cpp',
              model: this.modelName,
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

function loadModel(modelPath: string, gpu: boolean, contextSize: number, threads?: number): Promise<Loaded> {
  return withLlamaSafeEnv(() => loadModelNow(modelPath, gpu, contextSize, threads));
}

async function loadModelNow(modelPath: string, gpu: boolean, contextSize: number, threads?: number): Promise<Loaded> {
  const started = performance.now();
  // Imported here so that Ollama users and unit tests never load the native addon.
  const lib = await import('node-llama-cpp');
  const { getLlama, LlamaChat, LlamaLogLevel, TokenBias } = lib;
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
      lib,
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

/**
 * How a string near its soft limit ends: at a sentence's end, not in the middle of one. From three
 * quarters of the limit on, a finished sentence closes the string; the sentence under way may run
 * on to HARD_STOP times the limit, where the string is closed wherever it is. Measured with the
 * 1.5B: a close quote favoured at the limit itself, or a full stop favoured there, cut about 1
 * scene in 4 mid-sentence ("... near the."); the plan's timing (review.ts timedSceneSeconds) makes
 * room for a longer sentence instead.
 */
function pastLimitBias(json: JsonStringTracker, limit: number, closeQuote: TokenBias): TokenBias | undefined {
  const chars = json.stringChars;
  if (chars < limit * 0.75) return undefined;
  return json.endsSentence || chars >= limit * HARD_STOP ? closeQuote : undefined;
}

/** How far past its soft limit a string may run to end its sentence. */
const HARD_STOP = 1.7;

/**
 * How much less likely a word of the value a property must not copy becomes (a logit). Measured on
 * the 0.5B model: at -3 and at -8 its rewrites then left the picture empty (and enforce used the
 * narration for it); with the grammar asking for MIN_PICTURE_CHARS, -8 gave the sky and coffee
 * plans 10 pictures of 10 in their own words.
 */
const UNLIKE_LOGIT = -8;

/** Words of at least 4 letters in `texts` (but not `except`), each made less likely (both as a word start and inside a word). */
function avoidBias({ lib, model }: Loaded, texts: string[], logit = -3, except: string[] = []): TokenBias {
  const bias = new lib.TokenBias(model.tokenizer);
  const free = new Set(except.map((w) => w.toLowerCase()));
  const words = new Set(texts.flatMap((t) => t.match(/\p{L}{4,}/gu) ?? []).filter((w) => !free.has(w.toLowerCase())));
  for (const word of words) {
    for (const form of [word, ` ${word}`, ` ${word.toLowerCase()}`]) {
      const tokens = model.tokenize(form);
      // Only the word's first token: the rest follow from it, and short shared pieces stay free.
      if (tokens[0] !== undefined) bias.set(tokens[0], { logit });
    }
  }
  return bias;
}

/**
 * Threads for a generation. llama.cpp's threads meet at a barrier after every step, so when the
 * machine's other work already fills the cores, each step waits for the slowest thread to be
 * scheduled: measured on 2 cores under a load average of 18, the 0.5B model wrote 0.3 tokens/s
 * on 2 threads and 4 tokens/s on 1. Near idle, 2 threads are the faster.
 */
export function threadsFor(ideal: number, otherRunnable: number | undefined, cores = ideal): number {
  if (otherRunnable === undefined) return ideal;
  return Math.max(1, Math.min(ideal, cores - otherRunnable));
}

/**
 * Runnable processes other than this one right now (Linux /proc/loadavg, median of 5 samples
 * over ~80 ms: one sample is noisy). Undefined where /proc is not there.
 */
export async function otherRunnableProcesses(): Promise<number | undefined> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i) await sleep(20);
    try {
      const running = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[0]);
      if (Number.isFinite(running)) samples.push(running);
    } catch {
      return undefined;
    }
  }
  if (!samples.length) return undefined;
  // This process's reading thread is one of the runnable ones.
  return Math.max(0, samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]! - 1);
}

/**
 * The grammar of a JSON Schema, with the JSON kept on one line. node-llama-cpp's own grammar also
 * allows newlines and indentation, which an instruct model happily writes: a quarter of a plan's
 * tokens (and of its time on a CPU) would go to whitespace. The schema must stay within
 * node-llama-cpp's GBNF subset (see agent/schema.ts); maxLength is honoured softly instead (see
 * maxStringChars): as GBNF bounds it makes sampling crawl.
 */
async function compactJsonGrammar(llama: Llama, lib: Loaded['lib'], schema: Record<string, unknown>): Promise<LlamaGrammar> {
  const json = await llama.createGrammarForJsonSchema(splitMaxLengths(schema).schema as Parameters<Llama['createGrammarForJsonSchema']>[0]);
  return llama.createGrammar({
    grammar: oneLineJsonGrammar(json.grammar),
    // As node-llama-cpp's JSON grammars end: four newlines stop generation and are trimmed.
    stopGenerationTriggers: [lib.LlamaText(['\n'.repeat(4)])],
    trimWhitespaceSuffix: true,
  });
}

/** Drops the "newline + indentation" choice from node-llama-cpp's JSON whitespace rules (a single space stays allowed). */
export function oneLineJsonGrammar(gbnf: string): string {
  return gbnf.replace(/\[\\n\] \((?:[^()"]|"[^"]*")*\) \| \[ \]\?/g, '[ ]?').replace(/^(whitespace-\S+ ::= )\[\\n\] \| \[ \]\?$/gm, '$1[ ]?');
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
  private value = '';
  private lastKey: string | undefined;
  private lastSignificant = '';
  private containers: string[] = [];
  /** Per open container, the property it is the value of ("outline" for the items of "outline": [...]). */
  private containerKeys: (string | undefined)[] = [];
  /** Characters in the JSON string currently open (0 outside strings). */
  stringChars = 0;
  /** The last complete string value of each property ("narration" -> the scene's words just written). */
  readonly lastValues: Record<string, string> = {};

  /** The string value being written ends a sentence (a full stop, "!" or "?", perhaps inside a closing quote or bracket). */
  get endsSentence(): boolean {
    return this.inString && !this.isKey && /[.!?][)'"\]]?\s*$/.test(this.value);
  }

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
          this.value = '';
          // An array's string items are held to the array property's limit.
          if (!inObject) this.lastKey = this.containerKeys.at(-1);
        } else if (ch === '{' || ch === '[') {
          this.containerKeys.push(this.lastSignificant === ':' ? this.lastKey : this.containerKeys.at(-1));
          this.containers.push(ch);
        } else if (ch === '}' || ch === ']') {
          this.containers.pop();
          this.containerKeys.pop();
        }
        if (!/\s/.test(ch)) this.lastSignificant = ch;
      } else if (this.escaped) {
        this.escaped = false;
        this.stringChars += 1;
        this.value += ch;
      } else if (ch === '\\') {
        this.escaped = true;
      } else if (ch === '"') {
        this.inString = false;
        if (this.isKey) this.lastKey = this.text;
        else if (this.lastKey !== undefined) this.lastValues[this.lastKey] = this.value;
        this.stringChars = 0;
        this.lastSignificant = '"';
      } else {
        this.stringChars += 1;
        if (this.isKey) this.text += ch;
        else this.value += ch;
      }
    }
  }
}
