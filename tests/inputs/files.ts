// Bad files for the input tests, made in the test run (nothing big is committed): pictures whose
// header declares a bomb, truncated and disguised files, recordings far too long. Real encoders
// (ffmpeg, espeak-ng via the channel fixtures) make the media; headers are written byte by byte.
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { pngImage, speechSample } from '../channel/fixtures.ts';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header declaring width x height (8-bit RGB) with a few rows of zeros after it. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(Math.min(width * 3 + 1, 1 << 20) * 4))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose frame header (after an APP0 segment) declares width x height. */
export function jpegDeclaring(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

/** An extended WebP (VP8X) whose canvas is width x height. */
export function webpDeclaring(width: number, height: number): Buffer {
  const chunk = Buffer.alloc(18);
  chunk.write('VP8X', 0, 'latin1');
  chunk.writeUInt32LE(10, 4);
  chunk.writeUIntLE(width - 1, 12, 3);
  chunk.writeUIntLE(height - 1, 15, 3);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(4 + chunk.length, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, chunk]);
}

/** A real picture of the given size in the given format (ffmpeg's test pattern). */
export function picture(format: 'png' | 'jpeg' | 'webp', width = 320, height = 240): Buffer {
  if (format === 'png' && width === 64 && height === 64) return pngImage();
  const codec = format === 'png' ? 'png' : format === 'jpeg' ? 'mjpeg' : 'libwebp';
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=s=${width}x${height}:d=1`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', codec, '-']);
}

/** `minutes` of quiet noise as low-bitrate Opus in OGG: small to send, long to decode. */
export function longRecording(minutes: number): Buffer {
  return execFileSync(
    'ffmpeg',
    ['-v', 'error', '-f', 'lavfi', '-i', `anoisesrc=a=0.02:c=pink:r=8000:d=${minutes * 60}`, '-ac', '1', '-c:a', 'libopus', '-b:a', '6k', '-application', 'voip', '-f', 'ogg', '-'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
}

/** A short MP4 with a picture and no sound (a video is not a voice sample). */
export function silentVideo(): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=160x120:d=2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4', '-']);
}

export const truncated = (bytes: Buffer, keep: number) => bytes.subarray(0, keep);

export { pngImage, speechSample };
