// A FAKE chat model for unit tests: answers from a script, records what it was asked. It honours
// the planner's call options the way the real providers do (it records `format` and `maxTokens`).
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import type { PlannerCallOptions } from '../../agent/llm/types.ts';

export interface FakeCall {
  /** Each message as "role: text". */
  messages: string[];
  format: PlannerCallOptions['format'];
  maxTokens: number | undefined;
}

export type ScriptedAnswer = string | object | ((call: FakeCall) => string | object);

export class ScriptedFakeChatModel extends BaseChatModel<PlannerCallOptions> {
  readonly calls: FakeCall[] = [];
  private readonly script: ScriptedAnswer[];

  constructor(script: ScriptedAnswer[]) {
    super({});
    this.script = [...script];
  }

  _llmType(): string {
    return 'scripted-fake';
  }

  async _generate(messages: BaseMessage[], options: this['ParsedCallOptions']): Promise<ChatResult> {
    const call: FakeCall = {
      messages: messages.map((m) => `${m.getType()}: ${m.text}`),
      format: options.format,
      maxTokens: options.maxTokens,
    };
    this.calls.push(call);
    const next = this.script.shift();
    if (next === undefined) throw new Error(`ScriptedFakeChatModel: unscripted call #${this.calls.length}`);
    const answer = typeof next === 'function' ? next(call) : next;
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
    return { generations: [{ text, message: new AIMessage(text) }] };
  }
}

/** A well-formed draft with `n` scenes. */
export function draftWith(n: number, overrides: { title?: string; narration?: (i: number) => string } = {}) {
  return {
    title: overrides.title ?? 'Why the Sky Is Blue',
    scenes: Array.from({ length: n }, (_, i) => ({
      narration: overrides.narration?.(i) ?? `Scene ${i + 1} explains how sunlight scatters in the air.`,
      visualPrompt: `a clear blue sky over a field, view ${i + 1}`,
      onScreenText: `Part ${i + 1}`,
    })),
  };
}
