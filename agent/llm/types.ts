// The one interface the agent talks to, whichever provider answers (Ollama or the embedded model).
import type { BaseChatModel, BaseChatModelCallOptions } from '@langchain/core/language_models/chat_models';

/** A JSON Schema object (the subset both Ollama and node-llama-cpp's grammar understand). */
export type JsonSchema = Record<string, unknown>;

/**
 * Call options every provider honours. `format` is Ollama's own name for structured output
 * (a JSON Schema object, or "json"); the embedded model turns the same value into a grammar.
 */
export interface PlannerCallOptions extends BaseChatModelCallOptions {
  format?: string | JsonSchema;
  /** Upper bound on generated tokens (a runaway small model otherwise loops until the context fills). */
  maxTokens?: number;
  /** Sampling for this call only (the model's own settings otherwise): a retry must not be the same draw again. */
  temperature?: number;
  seed?: number;
  /**
   * Texts the answer must not repeat: the embedded model lowers the odds of their words (Ollama
   * has no per-token bias and ignores it; the prompt names the repetition as well).
   */
  avoid?: string[];
  /**
   * What the rest of the script already says (the other scenes): the embedded model with a repeat
   * penalty (agent/llm/embedded.ts PLANNING_AIDS) punishes their tokens as if it had written them.
   */
  said?: string[];
  /**
   * A JSON property that must not copy another one just written, e.g. the picture
   * (`property: 'visualPrompt'`) not the narration (`of: 'narration'`): the embedded model makes
   * the words of that value far less likely while writing the property, except `except` (the
   * subject's own words, which the picture needs), where its PLANNING_AIDS say so. Ollama ignores it.
   */
  unlike?: { property: string; of: string; except?: string[] };
}

export type PlannerChatModel = BaseChatModel<PlannerCallOptions>;

/** What `createChatModel` returns; also what `planVideo` needs (structurally). */
export interface ChatModelHandle {
  model: PlannerChatModel;
  /** Human name for logs and /status, e.g. "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded, CPU)" or "ollama qwen2.5:7b-instruct". */
  label: string;
  /** The model's licence, from setup/models.json (embedded models from the cache only). */
  licence?: string;
  /** Why the model differs from the one asked for, e.g. "qwen2.5-coder-1.5b is not in the model cache". */
  note?: string;
  /**
   * Checks that the provider can answer (Ollama reachable and the model pulled; the embedded model
   * file present and loaded). Throws a UserError. Cheap after the first success.
   */
  ready(): Promise<void>;
}
