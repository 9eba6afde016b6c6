// Narration -> burned-in subtitles: short chunks spread over each scene's spoken time, written as an
// ASS document for libass (ffmpeg's `ass` filter). Pure functions, so they are cheap to unit-test.

export interface SubtitleCue {
  start: number;
  end: number;
  text: string;
}

/** One sentence of a scene's narration and when it is heard, in seconds from the scene's start. */
export interface SpokenSentence {
  text: string;
  start: number;
  end: number;
}

export interface NarratedSpan {
  /** Where the scene starts in the clip, in seconds. */
  start: number;
  /** How long the scene lasts, in seconds. */
  seconds: number;
  narration: string;
  /** How long the narration is actually spoken; defaults to the whole scene. */
  audioSeconds?: number;
  /** When each sentence is heard (measured by the tts stage): cues follow them instead of an estimate. */
  sentences?: SpokenSentence[];
}

export const DEFAULT_WORDS_PER_CHUNK = 7;
/** The last chunk of a scene stays up this much after the voice stops (never past the scene's end). */
const HOLD_AFTER_SPEECH_SECONDS = 0.3;
/** Tokens longer than this (scripts written without spaces, URLs) are cut into short glued pieces. */
const LONG_TOKEN_GRAPHEMES = 20;
const PIECE_GRAPHEMES = 3;

interface Token {
  text: string;
  /** Joined to the previous token without a space (pieces of one long unspaced run). */
  glued: boolean;
}

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), (segment) => segment.segment);
}

/** Collapses whitespace and drops control characters, so one narration is one line of plain text. */
export function normalizeNarration(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const word of normalizeNarration(text).split(' ')) {
    if (word.length === 0) continue;
    const parts = graphemes(word);
    if (parts.length <= LONG_TOKEN_GRAPHEMES) {
      tokens.push({ text: word, glued: false });
      continue;
    }
    for (let i = 0; i < parts.length; i += PIECE_GRAPHEMES) {
      tokens.push({ text: parts.slice(i, i + PIECE_GRAPHEMES).join(''), glued: i > 0 });
    }
  }
  return tokens;
}

/**
 * Splits a narration into chunks of about `maxWords` words, balanced so that the last chunk is not a
 * lone word (17 words -> 6 + 6 + 5). Graphemes (emoji, combining marks) are never split.
 */
export function chunkNarration(text: string, maxWords = DEFAULT_WORDS_PER_CHUNK): string[] {
  const tokens = tokenize(text);
  if (tokens.length === 0) return [];
  const perChunk = Math.max(1, Math.floor(maxWords));
  const count = Math.ceil(tokens.length / perChunk);
  const base = Math.floor(tokens.length / count);
  const larger = tokens.length % count; // the first `larger` chunks take one extra token
  const chunks: string[] = [];
  let index = 0;
  for (let c = 0; c < count; c++) {
    const size = base + (c < larger ? 1 : 0);
    let chunk = '';
    for (const token of tokens.slice(index, index + size)) {
      chunk += chunk.length === 0 || token.glued ? token.text : ` ${token.text}`;
    }
    index += size;
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * Timed cues for every scene. With measured sentence timings, each sentence's chunks start when the
 * sentence is heard and share its spoken time; without them, the scene's chunks share the scene's
 * spoken time in proportion to their length, starting when the scene starts (an estimate).
 */
export function narrationCues(spans: NarratedSpan[], maxWords = DEFAULT_WORDS_PER_CHUNK): SubtitleCue[] {
  const cues: SubtitleCue[] = [];
  for (const span of spans) {
    if (!(span.seconds > 0)) continue;
    const sceneEnd = span.start + span.seconds;
    const sentences = (span.sentences ?? []).filter((s) => s.end > s.start && s.start < span.seconds && normalizeNarration(s.text));
    if (sentences.length > 0) {
      sentences.forEach((sentence, i) => {
        const next = sentences[i + 1];
        // A sentence's last words stay up through the pause after it (no flicker between sentences).
        const until = next ? span.start + next.start : Math.min(sceneEnd, span.start + sentence.end + HOLD_AFTER_SPEECH_SECONDS);
        spread(cues, chunkNarration(sentence.text, maxWords), span.start + sentence.start, Math.min(sceneEnd, span.start + sentence.end), Math.min(sceneEnd, until));
      });
      continue;
    }
    const spoken = Math.min(span.seconds, span.audioSeconds !== undefined && span.audioSeconds > 0 ? span.audioSeconds : span.seconds);
    spread(cues, chunkNarration(span.narration, maxWords), span.start, span.start + spoken, Math.min(sceneEnd, span.start + spoken + HOLD_AFTER_SPEECH_SECONDS));
  }
  return cues;
}

/** Chunks share [start, spokenEnd] in proportion to their length; the last one stays up until `until`. */
function spread(cues: SubtitleCue[], chunks: string[], start: number, spokenEnd: number, until: number): void {
  const spoken = Math.max(0, spokenEnd - start);
  // +1 per chunk stands for the short pause between phrases.
  const weights = chunks.map((chunk) => graphemes(chunk).length + 1);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let before = 0;
  chunks.forEach((text, i) => {
    const from = start + (spoken * before) / total;
    before += weights[i] ?? 0;
    const to = i === chunks.length - 1 ? Math.max(until, spokenEnd) : start + (spoken * before) / total;
    if (to > from) cues.push({ start: from, end: to, text });
  });
}

/**
 * Makes narration safe as ASS dialogue text: libass treats `\N`, `\n`, `\h`, `\{`, `\}` and `{...}`
 * override blocks specially. A backslash gets a WORD JOINER (invisible) after it so it can never start an
 * escape; braces are escaped so they cannot open an override block.
 */
export function escapeAssText(text: string): string {
  return normalizeNarration(text).replace(/\\/g, '\\\u2060').replace(/[{}]/g, (brace) => `\\${brace}`);
}

/** ASS timestamps are H:MM:SS.cc (centiseconds). */
export function formatAssTime(seconds: number): string {
  const centis = Math.max(0, Math.round(seconds * 100));
  const h = Math.floor(centis / 360000);
  const m = Math.floor((centis % 360000) / 6000);
  const s = Math.floor((centis % 6000) / 100);
  const cs = centis % 100;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(cs).padStart(2, '0')}`;
}

export interface AssStyleOptions {
  width: number;
  height: number;
  fontName?: string;
}

/**
 * A complete ASS document: bottom-centred white DejaVu Sans with a 3 px black outline (at 720p),
 * sized relative to the frame height so it reads the same at any resolution.
 */
export function buildAssDocument(cues: SubtitleCue[], style: AssStyleOptions): string {
  const fontSize = Math.round(style.height * 0.064); // 46 px at 720p
  const outline = Math.max(1, Math.round(style.height / 240)); // 3 px at 720p
  const marginV = Math.round(style.height * 0.065);
  const marginH = Math.round(style.width * 0.06);
  const fontName = (style.fontName ?? 'DejaVu Sans').replace(/[,\r\n]/g, ' ');
  const lines = [
    '[Script Info]',
    '; Generated by MySpinBot media/subtitles.ts',
    'ScriptType: v4.00+',
    `PlayResX: ${style.width}`,
    `PlayResY: ${style.height}`,
    'WrapStyle: 0',
    'ScaledBorderAndShadow: yes',
    'YCbCr Matrix: None',
    '',
    '[V4+ Styles]',
    'Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding',
    // Colours are &HAABBGGRR (alpha 00 = opaque). Alignment 2 = bottom centre. BorderStyle 1 = outline,
    // no shadow: libass's layers are blended per frame in C, and a shadow layer costs ~30% more.
    `Style: Narration,${fontName},${fontSize},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,${outline},0,2,${marginH},${marginH},${marginV},1`,
    '',
    '[Events]',
    'Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text',
  ];
  for (const cue of cues) {
    // A cue shorter than ASS's centisecond resolution would never be shown.
    if (Math.round(cue.end * 100) <= Math.round(cue.start * 100)) continue;
    const text = escapeAssText(cue.text);
    if (text.length === 0) continue;
    lines.push(`Dialogue: 0,${formatAssTime(cue.start)},${formatAssTime(cue.end)},Narration,,0,0,0,,${text}`);
  }
  return `${lines.join('\n')}\n`;
}
