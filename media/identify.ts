// What an uploaded file really is: decided by its first bytes (magic numbers) and confirmed by
// ffprobe, never by its name or the MIME type a client declared. A picture's pixel size is read from
// its header first: one declaring more pixels than IMAGE_LIMITS allows (a decompression bomb) is
// never handed to a decoder.
import { open, type FileHandle } from 'node:fs/promises';
import { runFfmpeg } from './ffmpeg.ts';
import { probeMedia, type MediaInfo } from './probe.ts';

/** Pictures above this are refused before decoding (40 MP is about 160 MB of RGBA once decoded). */
export const IMAGE_LIMITS = { maxPixels: 40_000_000, maxSide: 16_384 } as const;

export interface PixelSize {
  width: number;
  height: number;
}

export type ContentKind = 'audio' | 'image' | 'video' | 'other';

export interface Identified {
  kind: ContentKind;
  /** Short format name: ogg, wav, mp3, flac, m4a, webm, png, jpeg, gif, webp, mp4, pdf, zip, unknown. */
  format: string;
  /** For messages to users: "an OGG audio file", "a PNG image". */
  description: string;
  /** ffprobe's view, when the file is media ffprobe could read. */
  media?: MediaInfo;
  /** A picture's size as its header declares it (read without decoding). */
  pixels?: PixelSize;
  /** The header declares more pixels than IMAGE_LIMITS: nothing was decoded or probed. */
  oversized?: boolean;
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
  // Phone photos share MP4's box layout; the brand says they are still pictures (no decoder here).
  { format: 'heic', kind: 'other', description: 'a HEIC image', test: (h) => ascii(h, 4, 'ftyp') && ['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1', 'msf1'].includes(h.toString('latin1', 8, 12)) },
  { format: 'avif', kind: 'other', description: 'an AVIF image', test: (h) => ascii(h, 4, 'ftyp') && ['avif', 'avis'].includes(h.toString('latin1', 8, 12)) },
  { format: 'mp4', kind: 'av', description: 'an MP4/M4A file', test: (h) => ascii(h, 4, 'ftyp') },
  { format: 'webm', kind: 'av', description: 'a WebM/Matroska file', test: (h) => h.length >= 4 && h.readUInt32BE(0) === 0x1a45dfa3 },
  { format: 'amr', kind: 'audio', description: 'an AMR audio file', test: (h) => ascii(h, 0, '#!AMR') },
  { format: 'pdf', kind: 'other', description: 'a PDF document', test: (h) => ascii(h, 0, '%PDF') },
  { format: 'zip', kind: 'other', description: 'a ZIP archive', test: (h) => ascii(h, 0, 'PK\x03\x04') },
  // Named so that a refusal says what was sent; none of these is read any further.
  { format: 'gzip', kind: 'other', description: 'a compressed archive', test: (h) => h[0] === 0x1f && h[1] === 0x8b },
  { format: '7z', kind: 'other', description: 'a compressed archive', test: (h) => ascii(h, 0, "7z\xbc\xaf'\x1c") || ascii(h, 0, 'Rar!') },
  { format: 'bmp', kind: 'other', description: 'a BMP image', test: (h) => ascii(h, 0, 'BM') && h.length >= 26 && h.readUInt32LE(14) >= 12 && h.readUInt32LE(14) <= 124 },
  { format: 'tiff', kind: 'other', description: 'a TIFF image', test: (h) => ascii(h, 0, 'II*\x00') || ascii(h, 0, 'MM\x00*') },
  { format: 'midi', kind: 'other', description: 'a MIDI file (notes, not recorded sound)', test: (h) => ascii(h, 0, 'MThd') },
  { format: 'program', kind: 'other', description: 'a program', test: (h) => ascii(h, 0, '\x7fELF') || ascii(h, 0, 'MZ') || ascii(h, 0, '#!') },
  { format: 'markup', kind: 'other', description: 'a text document (HTML, XML or SVG)', test: (h) => /^(?:\xef\xbb\xbf)?\s*<(?:\?xml|!doctype|html|svg)/i.test(h.toString('latin1')) },
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

async function readAt(handle: FileHandle, offset: number, bytes: number): Promise<Buffer> {
  const buffer = Buffer.alloc(bytes);
  const { bytesRead } = await handle.read(buffer, 0, bytes, offset);
  return buffer.subarray(0, bytesRead);
}

/** JPEG: the first start-of-frame segment (SOF0-15 but DHT, JPG and DAC), found by walking segment lengths. */
async function jpegSize(handle: FileHandle): Promise<PixelSize | null> {
  let offset = 2;
  for (let segments = 0; segments < 1000; segments++) {
    const header = await readAt(handle, offset, 9);
    if (header.length < 4 || header[0] !== 0xff) return null;
    const marker = header[1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return header.length >= 9 ? { height: header.readUInt16BE(5), width: header.readUInt16BE(7) } : null;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan data before any frame header
    offset += 2 + header.readUInt16BE(2);
  }
  return null;
}

/** The pixel size a picture's header declares, without decoding it; null when the header is unreadable. */
export async function imageSizeFromHeader(path: string, format: string): Promise<PixelSize | null> {
  const handle = await open(path, 'r');
  try {
    const h = await readAt(handle, 0, 32);
    if (format === 'png') return h.length >= 24 && ascii(h, 12, 'IHDR') ? { width: h.readUInt32BE(16), height: h.readUInt32BE(20) } : null;
    if (format === 'gif') return h.length >= 10 ? { width: h.readUInt16LE(6), height: h.readUInt16LE(8) } : null;
    if (format === 'jpeg') return await jpegSize(handle);
    if (format === 'webp' && h.length >= 30) {
      if (ascii(h, 12, 'VP8X')) return { width: 1 + h.readUIntLE(24, 3), height: 1 + h.readUIntLE(27, 3) };
      if (ascii(h, 12, 'VP8L') && h[20] === 0x2f) {
        const bits = h.readUInt32LE(21);
        return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
      }
      if (ascii(h, 12, 'VP8 ')) return { width: h.readUInt16LE(26) & 0x3fff, height: h.readUInt16LE(28) & 0x3fff };
    }
    return null;
  } finally {
    await handle.close();
  }
}

/** Whether a declared size is over IMAGE_LIMITS (too many pixels, or one side too long). */
export function overImageLimits(size: PixelSize): boolean {
  return size.width * size.height > IMAGE_LIMITS.maxPixels || size.width > IMAGE_LIMITS.maxSide || size.height > IMAGE_LIMITS.maxSide;
}

/**
 * Decodes the first picture of a file of at most IMAGE_LIMITS pixels: false when the decoder
 * reports any error (a truncated or corrupt picture that ffprobe's header read let through).
 */
export async function decodesCleanly(path: string): Promise<boolean> {
  try {
    const errors = await runFfmpeg({
      inputs: [{ path, options: ['-v', 'error', '-xerror'] }],
      outputOptions: ['-map', '0:v:0', '-frames:v', '1'],
      output: null,
      signal: AbortSignal.timeout(30_000),
    });
    return errors.every((line) => !line.trim());
  } catch {
    return false;
  }
}

/** Identifies a local file by magic bytes, then confirms media with ffprobe. */
export async function identifyFile(path: string): Promise<Identified> {
  const head = await readHead(path);
  const signature = SIGNATURES.find((s) => s.test(head));
  if (!signature) return { kind: 'other', format: 'unknown', description: 'a file type I do not recognise' };
  if (signature.kind === 'other') return { kind: 'other', format: signature.format, description: signature.description };
  const damaged = (): Identified => ({ kind: 'other', format: signature.format, description: `${signature.description.replace(/ file$/, '')} that cannot be read (damaged?)` });

  let pixels: PixelSize | undefined;
  if (signature.kind === 'image') {
    const declared = await imageSizeFromHeader(path, signature.format);
    if (!declared || declared.width < 1 || declared.height < 1) return damaged();
    pixels = declared;
    if (overImageLimits(declared)) return { kind: 'image', format: signature.format, description: signature.description, pixels, oversized: true };
  }

  let media: MediaInfo;
  try {
    media = await probeMedia(path);
  } catch {
    // The first bytes look like media, but ffprobe cannot read it: truncated or disguised.
    return damaged();
  }
  let kind: ContentKind = signature.kind === 'av' ? (media.video ? 'video' : media.audio ? 'audio' : 'other') : signature.kind;
  // An "audio" container without an audio stream, or an image ffprobe cannot see as a picture.
  if (kind === 'audio' && !media.audio) kind = 'other';
  if (kind === 'image' && !media.video) kind = 'other';
  // A picture within the limits is decoded once here, so a truncated one is caught before it is kept.
  if (kind === 'image' && !(await decodesCleanly(path))) return damaged();
  let description = signature.description;
  if (signature.format === 'ogg') description = kind === 'video' ? 'an OGG video' : 'an OGG audio file';
  if (signature.format === 'mp4') description = kind === 'video' ? 'an MP4 video' : 'an M4A audio file';
  if (signature.format === 'webm') description = kind === 'video' ? 'a WebM video' : 'a WebM audio file';
  return { kind, format: signature.format === 'mp4' && kind === 'audio' ? 'm4a' : signature.format, description, media, ...(pixels ? { pixels } : {}) };
}
