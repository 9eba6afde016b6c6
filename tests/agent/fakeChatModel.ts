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
  private readonly afterScript?: ScriptedAnswer;

  /** `afterScript` answers every call once the script is used up (else such a call throws). */
  constructor(script: ScriptedAnswer[], options: { afterScript?: ScriptedAnswer } = {}) {
    super({});
    this.script = [...script];
    this.afterScript = options.afterScript;
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
    const next = this.script.shift() ?? this.afterScript;
    if (next === undefined) throw new Error(`ScriptedFakeChatModel: unscripted call #${this.calls.length}`);
    const answer = typeof next === 'function' ? next(call) : next;
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
    return { generations: [{ text, message: new AIMessage(text) }] };
  }
}

/** Twelve different sentences about the sky (no five words in a row shared): drafts that pass review. */
export const SKY_FACTS = [
  'Sunlight looks white, yet it carries every colour of the rainbow.',
  'Tiny molecules of nitrogen and oxygen float everywhere in the air.',
  'They bounce short blue waves around far more than long red ones.',
  'That scattered blue light reaches our eyes from every direction overhead.',
  'Violet scatters even more, but our eyes are less sensitive to it.',
  'At sunset the light crosses much more air before it reaches us.',
  'Most of the blue is lost on that long trip through the atmosphere.',
  'So evening skies glow orange, pink and deep red instead.',
  'On the Moon there is no air, so its sky stays black.',
  'Mars has thin dusty air, which turns its daytime sky butterscotch.',
  'Clouds look white because their big droplets scatter all colours equally.',
  'Next time you look up, you will know why it is blue.',
];

/** More sentences, for scenes long enough to need two. */
export const MORE_SKY_FACTS = [
  'Scientists call this effect Rayleigh scattering, after a British physicist.',
  'He worked it out with careful sums in the eighteen seventies.',
  'Pilots flying very high see a darker, deeper shade of blue.',
  'Polluted air with dust can make the sky look pale and milky.',
  'Ocean water looks blue for a different reason: it absorbs red light.',
  'Photographers love the golden hour just after sunrise for its warm light.',
  'Rainbows appear when sunlight bends inside falling drops of rain.',
  'Birds and bees can see colours that human eyes never notice.',
  'Astronauts describe Earth from orbit as a glowing blue marble.',
  'A clear winter morning often has the richest blue of the year.',
  'Smoke from distant fires can paint the afternoon sky copper.',
  'Artists mix ultramarine and white to paint a summer sky.',
];

/** A well-formed draft with `n` scenes that the planner's review accepts (about 5 s scenes; `long` for 7-10 s). */
export function draftWith(n: number, overrides: { title?: string; narration?: (i: number) => string; long?: boolean } = {}) {
  return {
    title: overrides.title ?? 'Why the Sky Is Blue',
    scenes: Array.from({ length: n }, (_, i) => ({
      narration:
        overrides.narration?.(i) ??
        (overrides.long ? `${SKY_FACTS[i % SKY_FACTS.length]} ${MORE_SKY_FACTS[i % MORE_SKY_FACTS.length]}` : SKY_FACTS[i % SKY_FACTS.length]!),
      visualPrompt: `a clear blue sky over a field, view ${i + 1}`,
      onScreenText: `Part ${i + 1}`,
    })),
  };
}

/** One scene as the model answers when asked to write a scene again. */
export function sceneAnswer(narration: string, visualPrompt = 'a kite flying in a bright blue sky', onScreenText = 'A new scene') {
  return { narration, visualPrompt, onScreenText };
}

/** Whether a call asked for one scene (a rewrite) rather than a whole plan. */
export function isSceneCall(call: FakeCall): boolean {
  return typeof call.format === 'object' && !('scenes' in ((call.format as { properties?: object }).properties ?? {}));
}
