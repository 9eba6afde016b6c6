// Which tool answers a message. Unambiguous words ("status", "help", "redo scene 2 ...", "make a
// video about ...") are decided in code, instantly and without a model; everything else goes to
// the chat model, whose answer is constrained by a JSON schema and then checked against the
// chosen tool's zod schema (one retry with the error fed back). Arguments that matter (the video
// description, the change) are the user's own words, never the model's rewording, so text in a
// message cannot smuggle new rules into the plan: the planner's caps apply to it as to any prompt.
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import type { PlannerChatModel } from '../llm/types.ts';
import { renderPrompt } from '../prompts.ts';
import type { HistoryEntry, Intent, LastJob, PendingPlan } from './state.ts';
import { describeTools, generateVideo, refineVideo, TOOL_NAMES, type ToolName } from './tools.ts';

export const ROUTE_PROMPTS = { system: 'route-system.v2', retry: 'route-retry.v1' } as const;

export interface Situation {
  pending: PendingPlan | null;
  lastJob: LastJob | null;
}

const GREETING_REPLY = 'Hi! Tell me what video you would like, e.g. "a 20 second video about why the sky is blue". Say "help" for more.';
const THANKS_REPLY = "You're welcome! Describe another video whenever you like.";

/** "scene 2", "the second scene", "last scene" -> 1-based scene number (0 for "last" resolved later). */
export function sceneNumberIn(text: string, sceneCount?: number): number | undefined {
  const digits = /\bscene\s*#?(\d{1,2})\b/i.exec(text);
  if (digits) return Number(digits[1]);
  const ordinals = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth'];
  const word = /\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)\s+scene\b/i.exec(text)?.[1]?.toLowerCase();
  if (!word) return undefined;
  if (word === 'last') return sceneCount;
  return ordinals.indexOf(word) + 1;
}

/** "in my voice" -> "mine" (the front-end picks the user's latest saved voice); "voice anna" -> "anna". */
export function voiceIn(text: string): string | undefined {
  if (/\bin\s+my\s+(?:own\s+)?voice\b/i.test(text)) return 'mine';
  return /\b(?:in|with)\s+(?:the\s+)?voice\s+(?!(?:over|acting|actor|narration)\b)["']?([A-Za-z0-9_-]{1,32})["']?/i.exec(text)?.[1];
}

const REFINE_WORDS =
  /\bscene\s*#?\d|\b(?:first|second|third|fourth|fifth|last)\s+scene\b|^(?:please\s+)?(?:redo|re-do|change|replace|make\s+it|shorter|longer|faster|slower|more|less|use|instead|without|add|remove|drop|swap|no\s+music|with\s+music|vertical|square|landscape)\b|^(?:please\s+)?(?:(?:with|no)\s+(?:the\s+|a\s+)?(?:presenter|motion)|present\s+it\s+yourself|presented\s+by\s+me)\b/i;
const GENERATE_WORDS = /^(?:please\s+)?(?:an?\s+)?(?:[\w-]+\s+){0,3}?(?:video|clip|explainer|reel|short)\s+(?:about|on|of|explaining|showing)\b|\b(?:make|create|generate|render|produce|do|give\s+me)\b.{0,60}?\b(?:video|clip|explainer|short|reel|animation|film)s?\b|^(?:a|an)\s+\d+[\s-]*(?:s|sec|second|minute)s?\b.*\b(?:video|clip|explainer)\b/i;

/** The intent when the words leave no doubt; undefined when the model should decide. */
export function ruleIntent(text: string, situation: Situation): Intent | undefined {
  const t = text.trim();
  const rule = (tool: ToolName, args: Record<string, unknown> = {}): Intent => ({ tool, args, via: 'rule' });
  if (/^\/?(?:help|\?)$|^what can you do\b|^how does (?:this|it) work\b|^what (?:kinds?|sorts?|types?) of (?:videos?|clips?|things?) (?:can|do) you\b|^(?:who|what) are you\b/i.test(t)) {
    return rule('show_help');
  }
  if (/^\/?status$|^(?:what'?s|what\s+is)\s+the\s+status\b|^how(?:'s|\s+is)\s+(?:my|the)\s+video\b|^is\s+(?:it|my\s+video)\s+(?:done|ready)\b/i.test(t)) {
    return rule('job_status');
  }
  if (/^\/?(?:cancel|stop|abort)(?:\s+(?:it|that|the\s+(?:video|render|job)))?[.!]*$/i.test(t)) return rule('cancel_job');
  if (/^\/?voices$|^(?:list|show)(?:\s+me)?\s+(?:my\s+)?voices\b|^(?:my|which)\s+voices\b|\b(?:my|saved)\s+voices\b.*\?$/i.test(t)) return rule('list_voices');
  if (/^(?:hi|hello|hey|yo|good\s+(?:morning|afternoon|evening))\b[\s!.,]*$/i.test(t)) return rule('chat_reply', { message: GREETING_REPLY });
  if (/^(?:thanks|thank\s+you|cheers|great|nice|cool)\b[\s!.,]*$/i.test(t)) return rule('chat_reply', { message: THANKS_REPLY });
  const wantsNew = /\b(?:new|another|different)\s+(?:video|clip)\b/i.test(t);
  if ((situation.pending || situation.lastJob) && !wantsNew && REFINE_WORDS.test(t)) {
    const count = (situation.pending?.plan ?? situation.lastJob?.plan)?.scenes.length;
    return rule('refine_video', { change: t, scene: sceneNumberIn(t, count) });
  }
  if (GENERATE_WORDS.test(t)) return rule('generate_video', { prompt: t, voice: voiceIn(t) });
  return undefined;
}

/** The JSON schema of the router's answer (flat: small models follow flat objects best). */
export function routeJsonSchema() {
  return {
    type: 'object',
    properties: {
      tool: { type: 'string', enum: [...TOOL_NAMES] },
      text: { type: 'string', maxLength: 400 },
      seconds: { type: 'integer' },
      scene: { type: 'integer' },
    },
    required: ['tool', 'text', 'seconds', 'scene'],
    additionalProperties: false,
  };
}

const RouterAnswer = z.object({
  tool: z.enum(TOOL_NAMES),
  text: z.string().default(''),
  seconds: z.number().int().default(0),
  scene: z.number().int().default(0),
});

function situationLine({ pending, lastJob }: Situation): string {
  if (pending) return `a plan "${pending.plan.title}" is waiting for the user's approval.`;
  if (lastJob) return `the last video made was "${lastJob.plan.title}" (${lastJob.plan.scenes.length} scenes).`;
  return 'no video has been planned yet.';
}

/** Turns the model's answer into an intent, or the reason it cannot be used. */
export function intentFromAnswer(raw: string, userText: string, situation: Situation): { ok: true; intent: Intent } | { ok: false; error: string } {
  let parsed: z.infer<typeof RouterAnswer>;
  try {
    const start = raw.indexOf('{');
    parsed = RouterAnswer.parse(JSON.parse(raw.slice(start, raw.lastIndexOf('}') + 1)));
  } catch (error) {
    const reason = error instanceof z.ZodError ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : 'it is not JSON';
    return { ok: false, error: reason.slice(0, 300) };
  }
  const model = (tool: ToolName, args: Record<string, unknown>): Intent => ({ tool, args, via: 'model' });
  const check = (schema: z.ZodType, args: Record<string, unknown>) => {
    const result = schema.safeParse(args);
    return result.success ? null : result.error.issues.map((i) => `${i.path.join('.') || parsed.tool}: ${i.message}`).join('; ');
  };
  switch (parsed.tool) {
    case 'generate_video': {
      const args = { prompt: userText.trim(), seconds: parsed.seconds > 0 ? parsed.seconds : undefined, voice: voiceIn(userText) };
      const error = check(generateVideo.schema, args);
      return error ? { ok: false, error: `seconds must be 0 or ${LIMITS.minSeconds}-${LIMITS.maxSeconds} (${error})` } : { ok: true, intent: model('generate_video', args) };
    }
    case 'refine_video': {
      if (!situation.pending && !situation.lastJob) return { ok: false, error: 'there is no plan or video to refine yet; pick another tool' };
      const count = (situation.pending?.plan ?? situation.lastJob?.plan)?.scenes.length ?? LIMITS.maxScenes;
      const scene = sceneNumberIn(userText, count) ?? (parsed.scene > 0 ? parsed.scene : undefined);
      const args = { change: userText.trim(), scene: scene && scene <= count ? scene : undefined };
      const error = check(refineVideo.schema, args);
      return error ? { ok: false, error } : { ok: true, intent: model('refine_video', args) };
    }
    case 'chat_reply': {
      const message = parsed.text.trim();
      if (!message) return { ok: false, error: 'text: write the reply for chat_reply' };
      return { ok: true, intent: model('chat_reply', { message: message.slice(0, 600) }) };
    }
    default:
      return { ok: true, intent: model(parsed.tool, {}) };
  }
}

function routeMessages(text: string, situation: Situation, history: HistoryEntry[]): BaseMessage[] {
  // The history does not hold this message yet (the route node appends it).
  const earlier = history.slice(-5).map((h) => (h.role === 'user' ? new HumanMessage(h.text) : new AIMessage(h.text)));
  return [
    new SystemMessage(renderPrompt(ROUTE_PROMPTS.system, { tools: describeTools(), situation: situationLine(situation) })),
    ...earlier,
    new HumanMessage(text),
  ];
}

/** Decides the intent of a message: rules first, then the model (one retry), then help. */
export async function routeIntent(
  text: string,
  situation: Situation,
  history: HistoryEntry[],
  deps: { model: PlannerChatModel; ready?: () => Promise<void>; signal?: AbortSignal },
): Promise<Intent> {
  const byRule = ruleIntent(text, situation);
  if (byRule) return byRule;
  await deps.ready?.();
  const messages = routeMessages(text, situation, history);
  const ask = async (msgs: BaseMessage[]) =>
    (await deps.model.invoke(msgs, { format: routeJsonSchema(), maxTokens: 200, ...(deps.signal ? { signal: deps.signal } : {}) })).text;
  const first = await ask(messages);
  const firstResult = intentFromAnswer(first, text, situation);
  if (firstResult.ok) return firstResult.intent;
  const second = await ask([...messages, new AIMessage(first.slice(0, 600)), new HumanMessage(renderPrompt(ROUTE_PROMPTS.retry, { error: firstResult.error }))]);
  const secondResult = intentFromAnswer(second, text, situation);
  if (secondResult.ok) return secondResult.intent;
  return { tool: 'show_help', args: {}, via: 'model' };
}
