// Just enough container parsing to fill width/height/duration the way the Bot API reports them
// for uploaded media (PNG/JPEG dimensions, MP4 moov/mvhd + tkhd). Unknown formats give zeros.

export interface MediaInfo {
  width: number;
  height: number;
  duration: number;
}

export function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) return undefined;
      const marker = bytes[i + 1]!;
      const length = bytes.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
      }
      i += 2 + length;
    }
  }
  return undefined;
}

function* boxes(bytes: Buffer, start: number, end: number): Generator<{ type: string; body: number; end: number }> {
  let i = start;
  while (i + 8 <= end) {
    let size = bytes.readUInt32BE(i);
    const type = bytes.toString('latin1', i + 4, i + 8);
    let header = 8;
    if (size === 1) {
      if (i + 16 > end) return;
      size = Number(bytes.readBigUInt64BE(i + 8));
      header = 16;
    } else if (size === 0) {
      size = end - i;
    }
    if (size < header || i + size > end) return;
    yield { type, body: i + header, end: i + size };
    i += size;
  }
}

export function mp4Info(bytes: Buffer): MediaInfo | undefined {
  try {
    const moov = [...boxes(bytes, 0, bytes.length)].find((b) => b.type === 'moov');
    if (!moov) return undefined;
    let duration = 0;
    let width = 0;
    let height = 0;
    for (const box of boxes(bytes, moov.body, moov.end)) {
      if (box.type === 'mvhd') {
        const version = bytes[box.body]!;
        const timescale = version === 1 ? bytes.readUInt32BE(box.body + 20) : bytes.readUInt32BE(box.body + 12);
        const units = version === 1 ? Number(bytes.readBigUInt64BE(box.body + 24)) : bytes.readUInt32BE(box.body + 16);
        if (timescale > 0) duration = Math.round(units / timescale);
      }
      if (box.type === 'trak' && width === 0) {
        const tkhd = [...boxes(bytes, box.body, box.end)].find((b) => b.type === 'tkhd');
        if (tkhd) {
          // width/height are the last two 16.16 fixed-point fields of tkhd
          const w = bytes.readUInt32BE(tkhd.end - 8) >>> 16;
          const h = bytes.readUInt32BE(tkhd.end - 4) >>> 16;
          if (w > 0 && h > 0) {
            width = w;
            height = h;
          }
        }
      }
    }
    return { width, height, duration };
  } catch {
    return undefined;
  }
}
