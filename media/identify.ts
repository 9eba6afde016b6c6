// What an uploaded file really is: decided by its first bytes (magic numbers) and confirmed by
// ffprobe, never by its name or the MIME type a client declared.
import { open } from 'node:fs/promises';
import { probeMedia, type MediaInfo } from './probe.ts';

export type ContentKind = 'audio' | 'image' | 'video' | 'other';

export interface Identified {
  kind: ContentKind;
  /** Short format name: ogg, wav, mp3, flac, m4a, webm, png, jpeg, gif, webp, mp4, pdf, zip, unknown. */
  format: string;
  /** For messages to users: "an OGG audio file", "a PNG image". */
  description: string;
  /** ffprobe's view, when the file is media ffprobe could read. */
  media?: MediaInfo;
}

interface Signature {
  format: string;
  /** audio / image / video by container; containers that hold either are refined by ffprobe. */
  kind: ContentKind | 'av';
  description: string;
  test(head: Buffer): boolean;
}

const ascii = (head: Buffer, offset: number, text: string) => head.toString('latin1', offset, offset + text.length) === text;

const SIGNATURES: Signature[] = [
  { format: 'png', kind: 'image', description: 'a PNG image', test: (h) => h.length >= 8 && h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { format: 'jpeg', kind: 'image', description: 'a JPEG image', test: (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff },
  { format: 'gif', kind: 'image', description: 'a GIF image', test: (h) => ascii(h, 0, 'GIF87a') || ascii(h, 0, 'GIF89a') },
  { format: 'webp', kind: 'image', description: 'a WebP image', test: (h) => ascii(h, 0, 'RIFF') && ascii(h, 8, 'WEBP') },
  { format: 'wav', kind: 'audio', description: 'a WAV audio file', test: (h) => (ascii(h, 0, 'RIFF') || ascii(h, 0, 'RF64')) && ascii(h, 8, 'WAVE') },
  { format: 'ogg', kind: 'av', description: 'an OGG file', test: (h) => ascii(h, 0, 'OggS') },
  { format: 'flac', kind: 'audio', description: 'a FLAC audio file', test: (h) => ascii(h, 0, 'fLaC') },
  { format: 'mp3', kind: 'audio', description: 'an MP3 audio file', test: (h) => ascii(h, 0, 'ID3') || (h[0] === 0xff && ((h[1] ?? 0) & 0xe0) === 0xe0 && ((h[1] ?? 0) & 0x06) !== 0) },
  { format: 'aac', kind: 'audio', description: 'an AAC audio file', test: (h) => h[0] === 0xff && ((h[1] ?? 0) & 0xf6) === 0xf0 },
  { format: 'mp4', kind: 'av', description: 'an MP4/M4A file', test: (h) => ascii(h, 4, 'ftyp') },
  { format: 'webm', kind: 'av', description: 'a WebM/Matroska file', test: (h) => h.length >= 4 && h.readUInt32BE(0) === 0x1a45dfa3 },
  { format: 'amr', kind: 'audio', description: 'an AMR audio file', test: (h) => ascii(h, 0, '#!AMR') },
  { format: 'pdf', kind: 'other', description: 'a PDF document', test: (h) => ascii(h, 0, '%PDF') },
  { format: 'zip', kind: 'other', description: 'a ZIP archive', test: (h) => ascii(h, 0, 'PK\x03\x04') },
];

async function readHead(path: string, bytes = 64): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Identifies a local file by magic bytes, then confirms media with ffprobe. */
export async function identifyFile(path: string): Promise<Identified> {
  const head = await readHead(path);
  const signature = SIGNATURES.find((s) => s.test(head));
  if (!signature) return { kind: 'other', format: 'unknown', description: 'a file type I do not recognise' };
  if (signature.kind === 'other') return { kind: 'other', format: signature.format, description: signature.description };

  let media: MediaInfo;
  try {
    media = await probeMedia(path);
  } catch {
    // The first bytes look like media, but ffprobe cannot read it: truncated or disguised.
    return { kind: 'other', format: signature.format, description: `${signature.description.replace(/ file$/, '')} that cannot be read (damaged?)` };
  }
  let kind: ContentKind = signature.kind === 'av' ? (media.video ? 'video' : media.audio ? 'audio' : 'other') : signature.kind;
  // An "audio" container without an audio stream, or an image ffprobe cannot see as a picture.
  if (kind === 'audio' && !media.audio) kind = 'other';
  if (kind === 'image' && !media.video) kind = 'other';
  let description = signature.description;
  if (signature.format === 'ogg') description = kind === 'video' ? 'an OGG video' : 'an OGG audio file';
  if (signature.format === 'mp4') description = kind === 'video' ? 'an MP4 video' : 'an M4A audio file';
  if (signature.format === 'webm') description = kind === 'video' ? 'a WebM video' : 'a WebM audio file';
  return { kind, format: signature.format === 'mp4' && kind === 'audio' ? 'm4a' : signature.format, description, media };
}
