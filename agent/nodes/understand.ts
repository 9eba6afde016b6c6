// understand: code only. Validates the request against LIMITS, works out the length, the scene
// count, the language and the voice. Nothing here asks the model, so bad input costs nothing.
import { LIMITS, type Aspect } from '../../gpu-bridge/contracts/index.ts';
import { UserError } from '../../pipeline/errors.ts';
import { normalizePrompt, normalizeText } from '../normalize.ts';
import type { PlanBrief, PlannerStateType, PlannerUpdate, PlanRequest } from '../state.ts';
import { normalizeLanguage, voiceFor } from '../voices.ts';

export const DEFAULT_SECONDS = 30;
/** Target scene length: scenes of about 4-6 s keep the picture moving. */
export const TARGET_SCENE_SECONDS = 5;

// Seconds in words start at five: "a second" / "one second" are figures of speech, not lengths.
const SECOND_WORDS: Record<string, number> = {
  five: 5, ten: 10, fifteen: 15, twenty: 20, thirty: 30, forty: 40, 'forty-five': 45, fifty: 50,
  sixty: 60, ninety: 90,
};
const MINUTE_WORDS: Record<string, number> = { a: 1, an: 1, one: 1, two: 2, three: 3, 'half a': 0.5 };
const NUMBER_WORDS: Record<string, number> = { ...SECOND_WORDS, ...MINUTE_WORDS };
const alternation = (words: Record<string, number>) =>
  Object.keys(words)
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(' ', '\\s+'))
    .join('|');
const MIN_NUM = `(\\d+(?:\\.\\d+)?|${alternation(MINUTE_WORDS)})`;
const NUM = `(\\d+(?:\\.\\d+)?|${alternation(SECOND_WORDS)})`;
const MIN_UNIT = '(?:minutes?|mins?)';
const SEC_UNIT = '(?:seconds?|secs?)';
const HOUR_UNIT = '(?:hours?|hrs?)';

interface DurationMatch {
  index: number;
  length: number;
  seconds: number;
}

function toNumber(token: string): number {
  const word = token.toLowerCase().replace(/\s+/g, ' ');
  return NUMBER_WORDS[word] ?? Number(token);
}

const PATTERNS: { regex: RegExp; seconds: (m: RegExpExecArray) => number | undefined }[] = [
  // "1 minute 30 seconds", "2 min and 10 s"
  {
    regex: new RegExp(`\\b${MIN_NUM}[\\s-]*${MIN_UNIT}\\s*(?:and\\s+)?(\\d+)[\\s-]*(?:${SEC_UNIT}|s)\\b`, 'gi'),
    seconds: (m) => toNumber(m[1]!) * 60 + Number(m[2]),
  },
  // "1 minute", "a minute", "1.5-minute", "2 mins"
  { regex: new RegExp(`\\b${MIN_NUM}[\\s-]*${MIN_UNIT}\\b`, 'gi'), seconds: (m) => toNumber(m[1]!) * 60 },
  // "20 second", "30-second", "90 sec", "thirty seconds"
  { regex: new RegExp(`\\b${NUM}[\\s-]*${SEC_UNIT}\\b`, 'gi'), seconds: (m) => toNumber(m[1]!) },
  // "5 hours", "an hour-long": a length far over the limit, refused rather than ignored. Not "24
  // hours in Tokyo" or "the first 3 hours of the Titanic", which are topics.
  {
    regex: new RegExp(`\\b${MIN_NUM}[\\s-]*${HOUR_UNIT}\\b(?![\\s-]+(?:in|of|at|on|to|from|before|after|later|ago)\\b)`, 'gi'),
    seconds: (m) => toNumber(m[1]!) * 3600,
  },
  // "20s", but not decades: "the 80s", "80s music", "1920s" (four digits never match)
  {
    regex: /\b(\d{1,3})s\b/gi,
    seconds: (m) => {
      const before = m.input.slice(0, m.index);
      const after = m.input.slice(m.index + m[0].length);
      if (/(?:\bthe|\bearly|\blate|\bmid|['’])[\s-]*$/i.test(before)) return undefined;
      if (/^\s+(?:music|songs?|style|fashion|movies?|films?|cartoons?|tv|era|kids|vibes?|aesthetic|culture|hits|rock|pop|cars?)\b/i.test(after)) {
        return undefined;
      }
      return Number(m[1]);
    },
  },
];

/** A minus sign written onto the number ("-5 seconds", "minus 5 seconds"), not a dash between words. */
const MINUS_BEFORE = /(?:^|[^\p{L}\p{N}.\-\u2212])(?:[-\u2212]|\b(?:minus|negative)\s+)$/iu;

function findDurations(text: string): DurationMatch[] {
  const found: DurationMatch[] = [];
  for (const { regex, seconds } of PATTERNS) {
    for (const m of text.matchAll(regex)) {
      let value = seconds(m as RegExpExecArray);
      if (value === undefined || !Number.isFinite(value)) continue;
      if (MINUS_BEFORE.test(text.slice(0, m.index))) value = -value;
      found.push({ index: m.index!, length: m[0].length, seconds: value });
    }
  }
  // The first mention wins; at the same place the longest reading ("1 minute 30 seconds").
  return found.sort((a, b) => a.index - b.index || b.length - a.length);
}

// Number-like words before a time unit that are not plain numbers: "1e9 seconds", "0x10 seconds",
// "5.5.5 seconds", "Infinity seconds", "NaN minutes". Refused rather than silently ignored.
const ODD_NUMBER = /(?<![\p{L}\p{N}.])([-+\u2212]?(?:[\d.,_]*\d[\d.,_]*(?:e[-+]?\d+)?|0x[\da-f]+|infinity|nan))[\s-]*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?)\b/giu;
// An option written in the text: "seconds=20", "length=-5", "--seconds 20".
const OPTION = /(?:^|\s)(?:--?)?(?:seconds|secs|duration|length)\s*=\s*(\S*)|(?:^|\s)--(?:seconds|secs|duration|length)\s+(\S+)/i;

/** A plain decimal number, signed or not: what a length option may be. */
const PLAIN_NUMBER = /^[-+\u2212]?\d+(?:\.\d+)?$/;

const rangeText = () => `a video can be ${LIMITS.minSeconds} to ${LIMITS.maxSeconds} seconds long`;

function unreadable(written: string): UserError {
  return new UserError('seconds.outOfRange', `"${written.slice(0, 40)}" is not a length I can read: ${rangeText()}, e.g. "a 30 second video" or seconds=30.`);
}

/**
 * A length given as an option value ("seconds=20", Discord's seconds, the CLI's --seconds): a plain
 * number of seconds within LIMITS, or the UserError that says the allowed range.
 */
export function parseSecondsValue(raw: string): number {
  const text = normalizeText(raw);
  if (!PLAIN_NUMBER.test(text)) throw unreadable(text || raw);
  return checkSeconds(Number(text.replace('\u2212', '-')));
}

/** The length if it is a finite number within LIMITS; else the UserError that says the range. */
export function checkSeconds(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw unreadable(String(value));
  if (value < LIMITS.minSeconds || value > LIMITS.maxSeconds) throw outOfRange(value);
  return value;
}

/**
 * The video length a text asks for, in seconds, or undefined when it names none: an option written
 * in it ("seconds=20", "--seconds 20") first, then words ("a 20 second video", "-5 seconds" is -5).
 * Throws the range sentence for what cannot be a length ("seconds=abc", "1e9 seconds"), so that a
 * change like "make it 1e9 seconds" is refused rather than ignored.
 */
export function parseDurationSeconds(text: string): number | undefined {
  const option = OPTION.exec(text);
  if (option) return parseSecondsValue(option[1] ?? option[2] ?? '');
  for (const m of text.matchAll(ODD_NUMBER)) {
    if (!PLAIN_NUMBER.test(m[1]!)) throw unreadable(m[0]);
  }
  return findDurations(text)[0]?.seconds;
}

/** The length a prompt asks for, checked against LIMITS (the range sentence when it is not within them). */
export function lengthInPrompt(prompt: string): number | undefined {
  const seconds = parseDurationSeconds(prompt);
  return seconds === undefined ? undefined : checkSeconds(seconds);
}

/** "Make a 20 second explainer about why the sky is blue" -> "why the sky is blue". */
export function topicOf(prompt: string): string {
  let topic = prompt.replace(new RegExp(OPTION.source, 'gi'), ' ');
  for (const d of findDurations(prompt).reverse()) {
    topic = topic.slice(0, d.index) + topic.slice(d.index + d.length);
  }
  topic = topic
    .replace(/\s+/g, ' ')
    .replace(/^\s*(?:please\s+)?(?:(?:make|create|generate|produce|render|give|write|do)\s+(?:me\s+|us\s+)?)?/i, '')
    .replace(/^(?:a|an|the|one)\b\s*/i, '')
    .replace(/^(?:short|quick|little|brief|long)\b\s*/i, '')
    .replace(/^-?\s*long\b\s*/i, '')
    .replace(/^(?:video|clip|explainer|film|movie|animation|reel|short)s?\b\s*/i, '')
    .replace(/^-?\s*long\b\s*/i, '')
    .replace(/^(?:about|on|of|explaining|showing|that explains|that shows|for)\b\s*/i, '')
    .replace(/^[\s,.:;-]+|[\s,.:;-]+$/g, '');
  return topic || prompt.trim();
}

/** About 5 s per scene, at least one scene, at most LIMITS.maxScenes, within the scene length limits. */
export function sceneCountFor(seconds: number): number {
  const wanted = Math.round(seconds / TARGET_SCENE_SECONDS);
  const fewest = Math.ceil(seconds / LIMITS.maxSceneSeconds);
  const most = Math.min(LIMITS.maxScenes, Math.floor(seconds / LIMITS.minSceneSeconds));
  return Math.max(1, fewest, Math.min(most, wanted));
}

/** "-5", "3600", "18000 (5 hours)": the asked length in seconds, in hours too when it is that long. */
function askedLength(seconds: number): string {
  const hours = Number((seconds / 3600).toFixed(1));
  return `${Number(seconds.toFixed(1))}${Math.abs(seconds) > 3600 ? ` (${hours} hour${hours === 1 ? '' : 's'})` : ''}`;
}

function outOfRange(seconds: number): UserError {
  return new UserError('seconds.outOfRange', `A video can be ${LIMITS.minSeconds} to ${LIMITS.maxSeconds} seconds long; you asked for ${askedLength(seconds)}.`);
}

const STYLE_LIMIT = 100;

/** "vertical" / "9:16" / "for TikTok" -> 9:16; "square" / "1:1" -> 1:1; else undefined. */
export function parseAspect(text: string): Aspect | undefined {
  if (/\b9\s*[:x×]\s*16\b|\b(?:vertical|portrait)\b|\b(?:for|on)\s+(?:tiktok|reels|instagram reels|shorts|youtube shorts|stories)\b/i.test(text)) return '9:16';
  if (/\b1\s*[:x×]\s*1\b|\bsquare\b/i.test(text)) return '1:1';
  if (/\b16\s*[:x×]\s*9\b|\b(?:landscape|widescreen)\b/i.test(text)) return '16:9';
  return undefined;
}

/** "with music" / "add some music" -> true; "no music" / "without music" -> false; else undefined. */
export function parseMusic(text: string): boolean | undefined {
  if (/\b(?:no|without|skip(?:\s+the)?|drop(?:\s+the)?|remove(?:\s+the)?|turn\s+off(?:\s+the)?)\s+(?:background\s+)?music\b|\bmusic\s+off\b/i.test(text)) return false;
  if (/\b(?:with|add|some|plus|and)\s+(?:(?:some|a|the|soft|calm|upbeat|background|little)\s+){0,2}(?:music|soundtrack)\b|\bmusic\s+on\b/i.test(text)) return true;
  return undefined;
}

/**
 * Who presents: "present it yourself" / "presented by me" -> 'me' (the user's photo); "with the presenter" /
 * "with a presenter" -> the built-in 'character'; "no presenter" / "without a presenter" -> 'none'; else undefined.
 */
export function parsePresenter(text: string): 'none' | 'me' | 'character' | undefined {
  if (/\b(?:no|without(?:\s+(?:a|the|any))?|drop(?:\s+the)?|remove(?:\s+the)?)\s+presenter\b|\bpresenter\s+off\b/i.test(text)) return 'none';
  if (/\bpresent(?:ed|s|ing)?\s+(?:it\s+|this\s+)?(?:by\s+)?(?:yourself|myself|me)\b|\bwith\s+me\s+(?:as\s+(?:the\s+)?presenter|presenting)\b|\b(?:i|i'll|i\s+will|let\s+me)\s+present\b/i.test(text)) return 'me';
  if (/\bwith\s+(?:a|the|an?\s+animated|the\s+built-in)\s+(?:presenter|character|avatar|host)\b|\bpresenter\s+on\b/i.test(text)) return 'character';
  return undefined;
}

/** "with motion" / "moving pictures" / "animate the scenes" -> true; "no motion" / "still pictures" -> false; else undefined. */
export function parseMotion(text: string): boolean | undefined {
  if (/\b(?:no|without)\s+motion\b|\bmotion\s+off\b|\bstill\s+(?:pictures|images)\b/i.test(text)) return false;
  if (/\bwith\s+motion\b|\bmotion\s+on\b|\bmoving\s+(?:pictures|images|scenes)\b|\banimate(?:d)?\s+(?:the\s+)?(?:scenes|pictures|images)\b/i.test(text)) return true;
  return undefined;
}

/** "in watercolour style", "watercolour-style", "in the style of a comic" -> the style words. */
export function parseStyle(text: string): string | undefined {
  // "in my style <name>": one of the user's trained styles, resolved when the job is queued (bot/styles.ts).
  const mine = /\bin\s+my\s+(?:own\s+)?style\s+(?:"([^"]{1,32})"|“([^”]{1,32})”|([\p{L}\p{N}][\p{L}\p{N}_-]{0,31}))/iu.exec(text);
  if (mine) return `my style ${(mine[1] ?? mine[2] ?? mine[3])!.trim()}`;
  const match =
    /\bin\s+(?:the\s+)?style\s+of\s+([^,.;!?]{2,60})/i.exec(text) ??
    /\bin\s+(?:an?\s+)?((?:[\p{L}'-]+\s+){0,2}[\p{L}'-]+)[\s-]style\b/iu.exec(text) ??
    /\b(\p{L}+)-style\b/iu.exec(text) ??
    /\bvisual style:\s*([^,.;!?)]{2,60})/i.exec(text);
  const style = match?.[1]?.trim();
  return style ? style.slice(0, STYLE_LIMIT) : undefined;
}

/** Validates a request; throws the UserError a user should see. */
export function understandRequest(request: PlanRequest): PlanBrief {
  const prompt = normalizePrompt(request.prompt);
  if (prompt.length > LIMITS.maxPromptChars) {
    throw new UserError(
      'prompt.tooLong',
      `That request is ${prompt.length} characters long; please keep it under ${LIMITS.maxPromptChars}.`,
    );
  }
  // An explicit length (a slash-command option) wins over one written in the prompt.
  const asked = request.seconds !== undefined && request.seconds !== null ? checkSeconds(request.seconds) : (lengthInPrompt(prompt) ?? DEFAULT_SECONDS);
  // Whole seconds: scene lengths then add up exactly.
  const seconds = Math.round(asked);
  const language = normalizeLanguage(request.language);
  return {
    prompt,
    topic: topicOf(prompt),
    seconds,
    sceneCount: sceneCountFor(seconds),
    language,
    voice: voiceFor(language, request.voiceId),
    // Explicit options win over words in the prompt; the style is plain text, cut to its limit.
    style: normalizeText(request.style ?? parseStyle(prompt) ?? '').slice(0, STYLE_LIMIT),
    aspect: request.aspect ?? parseAspect(prompt) ?? '16:9',
    // Music under the voice unless asked away: a narrated clip without a bed sounds unfinished.
    music: request.music ?? parseMusic(prompt) ?? true,
    ...presenterOf(request, prompt),
    motion: request.motion ?? parseMotion(prompt) ?? false,
  };
}

/** The presenter asked for; 'me' needs the user's checked portrait (presenterKey), sent before asking. */
function presenterOf(request: PlanRequest, prompt: string): Pick<PlanBrief, 'presenter' | 'presenterKey'> {
  const presenter = request.presenter ?? parsePresenter(prompt) ?? 'none';
  if (presenter !== 'me') return { presenter };
  if (!request.presenterKey) {
    throw new UserError('presenter.noPhoto', 'To present it yourself, first send me a clear, front-facing photo of your face; or say "with the presenter" for the built-in one.');
  }
  return { presenter, presenterKey: request.presenterKey };
}

export function understand(state: PlannerStateType): PlannerUpdate {
  return { brief: understandRequest(state.request) };
}
