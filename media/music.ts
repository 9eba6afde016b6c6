// Background music from the library in the model cache (id "music": immich-memories-music, MIT, 28
// tracks of ~32 s in five moods). A mood comes from the plan, or else from the words of the narration;
// the track is picked among the mood's by a hash of the narration, so a rerun keeps its music and
// another video usually gets another track.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { MusicMood } from '../gpu-bridge/contracts/index.ts';
import { modelDir, modelInfo, modelReady } from '../setup/models.mjs';

export { MusicMood };
export const MUSIC_MOODS = MusicMood.options;

const MODEL_ID = 'music';

export interface MusicTrack {
  /** The track's name, e.g. "calm_acoustic_1". */
  name: string;
  mood: MusicMood;
  file: string;
  /** For the result line: `"calm_acoustic_1" (immich-memories-music, MIT)`. */
  label: string;
}

// Words that set a mood, checked in this order; anything else is calm (explainers, nature, science).
const MOOD_WORDS: Array<[MusicMood, RegExp]> = [
  ['energetic', /\b(?:sports?|fast|speed|race|racing|action|workout|fitness|gym|running|startup|pitch|launch|rocket|power|energy|exciting|upbeat|hype|game|gaming|tech|future|innovation|adventure|extreme)\b/i],
  ['happy', /\b(?:happy|birthday|party|celebrat\w*|fun|funny|joy|kids?|children|summer|holiday|vacation|wedding|festival|cheerful|smile|congratulations|recipe|cooking|dog|puppy|cat|kitten)\b/i],
  ['nostalgic', /\b(?:history|historic\w*|past|memor(?:y|ies)|old|ancient|vintage|retro|childhood|remember|century|decades?|war|empire|grandparents?|legacy|\d{2}s|19\d\d|18\d\d)\b/i],
  ['tender', /\b(?:love|loving|family|baby|mother|mom|mum|father|dad|grandma|grandpa|thank(?:s| you)?|gentle|romantic|wedding|friendship|care|caring|heart|farewell|tribute|miss you)\b/i],
];

/** The mood a video's words suggest (title, narration, visual prompts); calm when none does. */
export function moodFromWords(text: string): MusicMood {
  let best: MusicMood = 'calm';
  let bestCount = 0;
  for (const [mood, pattern] of MOOD_WORDS) {
    const count = text.match(new RegExp(pattern.source, 'gi'))?.length ?? 0;
    if (count > bestCount) [best, bestCount] = [mood, count];
  }
  return best;
}

/** Why there is no music library here, or null when it is fetched and verified. */
export function musicUnavailable(): string | null {
  return modelReady(MODEL_ID) ? null : `the music library is not fetched (run: node setup/models.mjs fetch ${MODEL_ID})`;
}

/** A track of the mood, picked by `key` (same key, same track). Throws when the library is missing. */
export function pickTrack(mood: MusicMood, key: string): MusicTrack {
  const reason = musicUnavailable();
  if (reason) throw new Error(`No music: ${reason}.`);
  const folder = path.join(modelDir(MODEL_ID), 'tracks', mood);
  const names = readdirSync(folder).filter((name) => name.endsWith('.opus')).sort();
  if (names.length === 0) throw new Error(`No music: the library has no ${mood} tracks in ${folder}.`);
  const index = createHash('sha256').update(key).digest().readUInt32BE(0) % names.length;
  const name = names[index]!.replace(/\.opus$/, '');
  return { name, mood, file: path.join(folder, names[index]!), label: `"${name}" (${packageName()}, ${licence()})` };
}

function packageName(): string {
  return /immich-memories-music/.exec(modelInfo(MODEL_ID).source)?.[0] ?? modelInfo(MODEL_ID).source;
}

/** The licence's short form ("MIT" of "MIT (no attribution required)"). */
function licence(): string {
  return modelInfo(MODEL_ID).licence.replace(/\s*\(.*\)\s*$/, '');
}
