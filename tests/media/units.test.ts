// Fast unit tests for media/'s pure parts: timeline, pan plan, escaping, subtitle chunking and timing,
// and the parsers of ffmpeg's output. No ffmpeg runs here except one graph-parsing check.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parseLoudnessSummary } from '../../media/assemble.ts';
import { parseTimemark, stderrTail } from '../../media/ffmpeg.ts';
import { buildClipGraph, escapeFilterValue, OUTPUT, planPan, planTimeline } from '../../media/graph.ts';
import { frameDifference } from '../../media/probe.ts';
import { buildAssDocument, chunkNarration, escapeAssText, formatAssTime, narrationCues } from '../../media/subtitles.ts';

const run = promisify(execFile);

describe('planTimeline', () => {
  it('snaps scenes to whole frames without drifting from the total', () => {
    const scenes = planTimeline([2.5, 2.5, 2]);
    assert.deepEqual(
      scenes.map((s) => s.frames),
      [75, 75, 60],
    );
    assert.deepEqual(
      scenes.map((s) => s.start),
      [0, 2.5, 5],
    );
    const thirds = planTimeline([1 / 3, 1 / 3, 1 / 3, 1.01, 0.99]);
    assert.equal(
      thirds.reduce((sum, s) => sum + s.frames, 0),
      Math.round(3 * 30),
    );
    for (const s of thirds) assert.equal(s.samples, s.frames * (OUTPUT.sampleRate / OUTPUT.fps));
  });

  it('gives every scene at least one frame', () => {
    assert.ok(planTimeline([0.01, 0.01]).every((s) => s.frames >= 1));
  });
});

describe('planPan', () => {
  it('moves by whole pixels at a steady cadence, within the scaled still', () => {
    for (const frames of [30, 75, 150, 300, 900, 18000]) {
      for (let index = 0; index < 4; index++) {
        const pan = planPan(index, frames);
        const horizontal = pan.direction === 'right' || pan.direction === 'left';
        assert.ok(pan.framesPerPixel >= 2);
        assert.ok(Number.isInteger(pan.travel) && pan.travel >= 1);
        assert.ok(pan.travel * pan.framesPerPixel <= frames - 1 + pan.framesPerPixel);
        assert.ok(pan.travel <= 40, `travel ${pan.travel}`);
        assert.equal(pan.scaledWidth % 2, 0);
        assert.equal(pan.scaledHeight % 2, 0);
        assert.equal(pan.crossOffset % 2, 0);
        // Room for the odd positions, which crop the one-pixel-shifted copy at p - 1.
        const room = (horizontal ? pan.scaledWidth - OUTPUT.width : pan.scaledHeight - OUTPUT.height) - 2;
        assert.ok(pan.travel <= room, `travel ${pan.travel} > room ${room}`);
        const crossRoom = horizontal ? pan.scaledHeight - OUTPUT.height : pan.scaledWidth - OUTPUT.width;
        assert.ok(pan.crossOffset >= 0 && pan.crossOffset <= crossRoom);
      }
    }
  });

  it('cycles directions from scene to scene', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => planPan(i, 90).direction),
      ['right', 'left', 'down', 'up', 'right'],
    );
  });

  it('keeps a one-frame scene still', () => {
    assert.equal(planPan(0, 1).travel, 0);
  });
});

describe('escapeFilterValue', () => {
  it('escapes both quoting levels of a filtergraph', () => {
    assert.equal(escapeFilterValue('/tmp/plain/subs.ass'), '/tmp/plain/subs.ass');
    assert.equal(escapeFilterValue('a:b'), 'a\\\\:b');
    assert.equal(escapeFilterValue("it's"), "it\\\\\\'s");
    assert.equal(escapeFilterValue('x,y;[z]'), 'x\\,y\\;\\[z\\]');
    assert.equal(escapeFilterValue('back\\slash'), 'back\\\\\\\\slash');
  });

  it('survives ffmpeg parsing the whole clip graph with a hostile subtitle path', async () => {
    const timeline = planTimeline([1, 1]);
    const graph = buildClipGraph(
      timeline.map((t, i) => ({ timeline: t, imageInput: i, audioInput: 2 + i })),
      { motion: true, subtitlesPath: `/nonexistent/we'ird: dir, [x]; 50% \\ 日本/subs.ass`, gainDb: 3 },
    );
    // The graph parses up to opening the (missing) .ass file: ffmpeg names it, unescaped, in its error.
    const args = ['-hide_banner', '-nostdin', '-v', 'error'];
    for (let i = 0; i < 2; i++) args.push('-f', 'lavfi', '-i', 'color=s=64x64:d=1');
    for (let i = 0; i < 2; i++) args.push('-f', 'lavfi', '-i', 'anullsrc=d=1');
    args.push('-filter_complex', graph, '-map', '[vout]', '-map', '[aout]', '-f', 'null', '-');
    const failure = await run('ffmpeg', args).then(
      () => null,
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    assert.ok(failure !== null, 'ffmpeg should fail to open the missing .ass file');
    assert.match(failure, /we'ird: dir, \[x\]; 50% \\ 日本\/subs\.ass/, failure);
    assert.doesNotMatch(failure, /No such filter|Invalid argument.*filter|Error parsing/, failure);
  });
});

describe('chunkNarration', () => {
  it('splits into balanced chunks of at most 7 words', () => {
    const words = Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkNarration(words);
    assert.deepEqual(
      chunks.map((c) => c.split(' ').length),
      [6, 6, 5],
    );
    assert.equal(chunks.join(' '), words);
    assert.deepEqual(chunkNarration('  \n\t '), []);
    assert.deepEqual(chunkNarration('One.'), ['One.']);
  });

  it('never splits an emoji or a combining sequence, and cuts long unspaced runs', () => {
    const family = '👨‍👩‍👧‍👦';
    const chunks = chunkNarration(`${'日本語のテキストです'.repeat(4)} ${family} é`);
    assert.ok(chunks.length >= 2, JSON.stringify(chunks));
    assert.ok(chunks.join('').includes(family));
    assert.ok(chunks.join(' ').includes('é'));
    for (const chunk of chunks) assert.ok([...new Intl.Segmenter().segment(chunk)].length <= 30, chunk);
  });
});

describe('narrationCues', () => {
  it('spreads chunks over the spoken time from each scene start', () => {
    const cues = narrationCues([
      { start: 0, seconds: 4, narration: 'one two three four five six seven eight nine ten', audioSeconds: 3 },
      { start: 4, seconds: 2, narration: 'short', audioSeconds: 10 },
      { start: 6, seconds: 3, narration: '' },
    ]);
    const first = cues.filter((c) => c.start < 4);
    assert.equal(first.length, 2);
    assert.equal(first[0]!.start, 0);
    assert.ok(Math.abs(first[1]!.end - 3.3) < 1e-9, 'last chunk holds 0.3 s after the voice stops');
    assert.equal(first[0]!.end, first[1]!.start);
    const second = cues.filter((c) => c.start >= 4);
    assert.deepEqual(second, [{ start: 4, end: 6, text: 'short' }], 'capped at the scene end');
  });
});

describe('ASS output', () => {
  it('escapes override blocks and backslash escapes in narration', () => {
    const escaped = escapeAssText('a {\\b1} \\N new\nline \\h');
    assert.ok(!/(^|[^\\])\{/.test(escaped), escaped);
    assert.ok(!escaped.includes('\\N') && !escaped.includes('\\h'), escaped);
    assert.ok(!escaped.includes('\n'));
  });

  it('formats timestamps as H:MM:SS.cc', () => {
    assert.equal(formatAssTime(0), '0:00:00.00');
    assert.equal(formatAssTime(3725.456), '1:02:05.46');
    assert.equal(formatAssTime(59.999), '0:01:00.00');
  });

  it('writes a bottom-centred DejaVu Sans style and one Dialogue per cue', () => {
    const doc = buildAssDocument(
      [
        { start: 0, end: 1.5, text: 'Hello, world: "hi"' },
        { start: 1.5, end: 1.501, text: 'too short to show' },
      ],
      { width: 1280, height: 720 },
    );
    assert.match(doc, /PlayResX: 1280\nPlayResY: 720/);
    assert.match(doc, /^Style: Narration,DejaVu Sans,46,&H00FFFFFF,.*,1,3,0,2,\d+,\d+,\d+,1$/m);
    const dialogues = doc.split('\n').filter((line) => line.startsWith('Dialogue:'));
    assert.deepEqual(dialogues, ['Dialogue: 0,0:00:00.00,0:00:01.50,Narration,,0,0,0,,Hello, world: "hi"']);
  });
});

describe('ffmpeg output parsing', () => {
  it('reads timemarks', () => {
    assert.equal(parseTimemark('00:01:02.50'), 62.5);
    assert.equal(parseTimemark('N/A'), null);
    assert.equal(parseTimemark(undefined), null);
  });

  it('reads the ebur128 summary', () => {
    const lines = [
      '[Parsed_ebur128_0 @ 0x1] Summary:',
      '  Integrated loudness:',
      '    I:         -20.5 LUFS',
      '    Threshold: -31.0 LUFS',
      '  Sample peak:',
      '    Peak:       -2.0 dBFS',
    ];
    assert.deepEqual(parseLoudnessSummary(lines), { integrated: -20.5, samplePeak: -2 });
    assert.deepEqual(parseLoudnessSummary(['    I:         -inf LUFS']), { integrated: null, samplePeak: null });
  });

  it('keeps the meaningful end of stderr', () => {
    const tail = stderrTail(['a', 'frame=  10 fps=0.0 q=0.0', 'b', 'size=  1kB time=00:00:01', 'c'], 2);
    assert.deepEqual(tail, ['b', 'c']);
  });
});

describe('frameDifference', () => {
  it('is the mean absolute difference and refuses frames of different sizes', () => {
    assert.equal(frameDifference(Uint8Array.from([0, 10, 255]), Uint8Array.from([0, 20, 0])), (10 + 255) / 3);
    assert.throws(() => frameDifference(new Uint8Array(4), new Uint8Array(5)), RangeError);
  });
});
