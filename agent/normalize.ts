// Every piece of text a user types passes through normalizeText before any check reads it (the
// front-ends, the conversation, understand, voice names): a check must see what a person sees, not
// invisible characters that make an empty prompt look full or a name look different.
import { UserError } from '../pipeline/errors.ts';

/**
 * Invisible characters that carry no meaning in a prompt: Unicode format characters (zero-width
 * space/joiners, BOM, bidi embeddings/overrides/isolates, soft hyphen, tag characters), control
 * characters other than whitespace, the blank "letters" (Hangul fillers, braille blank) that render
 * as nothing, the combining grapheme joiner, and variation selectors left without a base.
 */
const INVISIBLE = /[\p{Cf}\u115F\u1160\u3164\uFFA0\u2800\u034F]|(?![\t\n\v\f\r])\p{Cc}/gu;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** More than this many combining marks on one letter is decoration ("zalgo"), not writing. */
const MAX_MARKS = 3;
const MARK_RUN = new RegExp(`(\\p{M}{${MAX_MARKS}})\\p{M}+`, 'gu');
/** Combining marks with no letter or digit to sit on (a message of accents alone is empty). */
const ORPHAN_MARKS = /(?<![\p{L}\p{N}\p{M}])\p{M}+/gu;

/**
 * NFKC (full-width and styled letters become plain ones), invisible characters removed, lone
 * surrogates dropped, combining marks without a base dropped and runs of them capped, whitespace collapsed to single spaces, trimmed.
 */
export function normalizeText(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  return raw
    .replace(LONE_SURROGATE, '')
    .replace(/\uFFFD/g, '')
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(ORPHAN_MARKS, '')
    .replace(MARK_RUN, '$1')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** Text with something to read in it: a letter, a digit or a pictograph (an emoji can be a topic). */
export function hasContent(text: string): boolean {
  return /[\p{L}\p{N}\p{Extended_Pictographic}]/u.test(text);
}

export const EMPTY_PROMPT_REPLY = 'Tell me what the video should be about, in words, e.g. "a 20 second explainer about why the sky is blue".';

/** The normalised prompt, or the UserError for one with nothing left to read. */
export function normalizePrompt(raw: unknown): string {
  const prompt = normalizeText(raw);
  if (!hasContent(prompt)) throw new UserError('prompt.empty', EMPTY_PROMPT_REPLY);
  return prompt;
}
