// Language tag -> espeak-ng voice (the CPU TTS backend). Cloned voices (f5-tts) come later.
import { Voice } from '../gpu-bridge/contracts/index.ts';
import { UserError } from '../pipeline/errors.ts';

// `espeak-ng --voices` (1.51, Debian 12), language column; a snapshot so the planner needs no espeak-ng.
const ESPEAK_VOICES = new Set(
  (
    'af am an ar as az ba be bg bn bpy bs ca cmn cs cv cy da de el en-029 en-gb en-gb-scotland en-gb-x-rp ' +
    'en-us en-us-nyc eo es es-419 et eu fa fi fr-be fr-ch fr-fr ga gd gn grc gu hak haw he hi hr ht hu hy ' +
    'hyw ia id io is it ja jbo ka kk kl kn ko kok ku ky la lb lfn lt ltg lv mi mk ml mr ms mt my nb nci ne ' +
    'nl nog om or pa pap piqd pl pt pt-br py qdb qu quc qya ro ru ru-lv sd shn si sjn sk sl smj sq sr sv ' +
    'sw ta te th tk tn tr tt ug uk ur uz vi yue'
  ).split(' '),
);

/** Where the bare language is not itself an espeak-ng voice name. */
const DEFAULT_VOICE: Record<string, string> = {
  en: 'en-us',
  fr: 'fr-fr',
  zh: 'cmn',
  no: 'nb',
};

const LANGUAGE_TAG = /^[a-z]{2,3}(-[a-z0-9]{2,8})?$/;

/** "EN_us" -> "en-us"; throws UserError 'language.invalid' for anything that is not a language tag. */
export function normalizeLanguage(input: string | undefined): string {
  if (input === undefined || input.trim() === '') return 'en';
  const tag = input.trim().toLowerCase().replace(/_/g, '-');
  if (!LANGUAGE_TAG.test(tag)) {
    throw new UserError(
      'language.invalid',
      `"${input.slice(0, 40)}" is not a language code I know. Use a code such as en, es, fr or pt-br.`,
    );
  }
  return tag;
}

export function espeakVoiceFor(language: string): string {
  if (ESPEAK_VOICES.has(language)) return language;
  const base = language.split('-')[0]!;
  return DEFAULT_VOICE[base] ?? (ESPEAK_VOICES.has(base) ? base : 'en-us');
}

/** The voice for a plan: the one asked for, or the espeak-ng voice of the language. */
export function voiceFor(language: string, voiceId?: string): Voice {
  const id = voiceId?.trim() || espeakVoiceFor(language);
  const parsed = Voice.safeParse({ engine: 'espeak-ng', id });
  if (!parsed.success) {
    throw new UserError(
      'voice.nameInvalid',
      `"${id.slice(0, 40)}" is not a voice name I can use: use letters, digits, spaces, - or _ (at most 64).`,
    );
  }
  return parsed.data;
}

/** English name of a language for the prompt ("pt-br" -> "Brazilian Portuguese"). */
export function languageName(language: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(language) ?? language;
  } catch {
    return language;
  }
}
