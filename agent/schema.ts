// What the model is asked for (a JSON Schema that constrains decoding) and how its answer is
// checked (zod). Deliberately loose on lengths and counts: the enforce node fixes those in code,
// so only answers that cannot be used at all (not JSON, wrong shape, no words) cost a retry.
import { z } from 'zod';
import { LIMITS, MusicMood } from '../gpu-bridge/contracts/index.ts';
import type { JsonSchema } from './llm/types.ts';

export const DraftScene = z.object({
  narration: z.string(),
  visualPrompt: z.string(),
  onScreenText: z.string().optional().default(''),
});
export type DraftScene = z.infer<typeof DraftScene>;

export const DraftPlan = z
  .object({
    title: z.string(),
    /** A mood the model picked for the music; one it made up is dropped (the media picks one then). */
    musicMood: z.string().optional().transform((mood) => MusicMood.safeParse(mood?.trim().toLowerCase()).data),
    /** The point each scene makes, a few words each, written before the scenes (see planJsonSchema). */
    outline: z.array(z.string()).optional(),
    scenes: z.array(DraftScene).min(1, 'the plan has no scenes'),
  })
  .refine((plan) => plan.scenes.some((s) => s.narration.trim() || s.visualPrompt.trim()), {
    message: 'every scene is empty; write narration for each scene',
    path: ['scenes'],
  });
export type DraftPlan = z.infer<typeof DraftPlan>;

/** The least characters of a picture's description: never empty (a small model leaves it so when told not to copy the narration). */
export const MIN_PICTURE_CHARS = 15;

/**
 * One scene as the model writes it (also asked alone, when a scene is written again). minLength
 * is a hard floor in the grammar (cheap, unlike a hard maxLength): the 0.5B model otherwise wrote
 * 4-word scenes that no rewrite lengthened.
 */
export function sceneJsonSchema(narrationChars: number = LIMITS.maxNarrationChars, minNarrationChars = 0): JsonSchema {
  const text = (maxLength: number, minLength = 0) => ({ type: 'string', maxLength, ...(minLength ? { minLength } : {}) });
  return {
    type: 'object',
    properties: {
      narration: text(Math.min(narrationChars, LIMITS.maxNarrationChars), Math.min(minNarrationChars, narrationChars)),
      visualPrompt: text(120, MIN_PICTURE_CHARS),
      onScreenText: text(40),
    },
    required: ['narration', 'visualPrompt', 'onScreenText'],
    additionalProperties: false,
  };
}

/**
 * The schema sent with every plan call. minItems = maxItems = sceneCount makes both decoders
 * produce exactly that many scenes. maxLength says how long each text may be; providers honour it
 * softly (node-llama-cpp's grammar crawls with hard length bounds, see agent/llm/), and the
 * enforce node cuts whatever is still too long.
 */
export function planJsonSchema(sceneCount: number, narrationChars: number = LIMITS.maxNarrationChars, minNarrationChars = 0): JsonSchema {
  return {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 80 },
      // A few tokens: the music library's moods.
      musicMood: { type: 'string', enum: [...MusicMood.options] },
      // The points first, each in a few words: a model that has listed different points writes
      // different scenes, where one writing scenes straight away tends to say the first one again.
      outline: { type: 'array', minItems: sceneCount, maxItems: sceneCount, items: { type: 'string', maxLength: 60 } },
      scenes: { type: 'array', minItems: sceneCount, maxItems: sceneCount, items: sceneJsonSchema(narrationChars, minNarrationChars) },
    },
    required: ['title', 'musicMood', 'outline', 'scenes'],
    additionalProperties: false,
  };
}

export type ParseResult = { ok: true; plan: DraftPlan } | { ok: false; error: string };

/** The JSON object in a model's answer (tolerates ```json fences and chatter around it). */
function extractJson(text: string): string {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  return start >= 0 && end > start ? text.slice(start, end + 1) : text.trim();
}

/** Parses and validates an answer; the error text is short enough to feed back to the model. */
export function parseDraft(text: string): ParseResult {
  const trimmed = text.trim().replace(/```$/, '').trim();
  if (trimmed.includes('{') && !trimmed.endsWith('}')) {
    // Cut off mid-object: the model ran into the token limit (a small model looping on a sentence).
    return { ok: false, error: 'it was cut off because it was too long; write one short sentence per narration' };
  }
  let json: unknown;
  try {
    json = JSON.parse(extractJson(text));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `it is not valid JSON (${reason.slice(0, 120)})` };
  }
  const result = DraftPlan.safeParse(json);
  if (result.success) return { ok: true, plan: result.data };
  const issues = result.error.issues
    .slice(0, 4)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'the answer'}: ${issue.message}`);
  return { ok: false, error: issues.join('; ') };
}

/**
 * For an answer cut off at the token limit (small models sometimes loop on one sentence): the
 * scenes that were complete before the cut, the JSON closed and validated; the planner has the
 * missing scenes written one by one. Undefined when not even one scene was finished.
 */
export function salvageDraft(text: string): DraftPlan | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  let lastSceneEnd = -1;
  let stackAtSceneEnd: string[] = [];
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') stack.push(ch === '{' ? '}' : ']');
    else if (ch === '}' || ch === ']') {
      stack.pop();
      // Back at depth 2 after a "}": a scene object inside the root's scenes array just ended.
      if (ch === '}' && stack.length === 2 && stack[1] === ']') {
        lastSceneEnd = i + 1;
        stackAtSceneEnd = [...stack];
      }
    }
  }
  if (lastSceneEnd < 0) return undefined;
  const closed = text.slice(start, lastSceneEnd) + stackAtSceneEnd.reverse().join('');
  const result = parseDraft(closed);
  return result.ok ? result.plan : undefined;
}
