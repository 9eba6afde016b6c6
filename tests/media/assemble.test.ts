// Integration tests for media/assemble.ts against the real ffmpeg: what a viewer would notice in the
// clip (format, length, loudness, motion, subtitles) and how the call behaves (progress, abort, errors).
// No timing assertions: timings belong in bench/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleClip, encodeBaseline, type AssembleResult, type SceneInput } from '../../media/assemble.ts';
import { isMediaError } from '../../media/errors.ts';
import { frameDifference, grayFrame, integratedLoudness, meanVolumeDb, mp4TopLevelBoxes, probeMedia } from '../../media/probe.ts';
import { bestHorizontalShift, changedShare, makeImage, makeTempDir, rowsDifference, speak } from './fixtures.ts';

// Scene 3's narration is hostile on purpose: filtergraph and ASS metacharacters, an ASS override
// block, a Windows path, emoji and non-Latin scripts.
const HOSTILE_NARRATION =
  `He said: "it's 50% off, [really]; isn't it?" {\\bord20\\c&H0000FF&} C:\\temp\\new\\ file, a\\Nb 😀🎬 — 日本語のテキスト, Привет, مرحبا`;

const SECONDS = [2.5, 2.5, 2];
const STARTS = [0, 2.5, 5];

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
let scenes: SceneInput[];
let clip: AssembleResult;
let baseline: AssembleResult;
const progress: number[] = [];

before(async () => {
  tmp = await makeTempDir();
  const dir = tmp.dir;
  const [img1, img2, img3, wav1, wav2, wav3] = await Promise.all([
    makeImage(join(dir, 'scene1.png'), 'testsrc2=s=1280x720'),
    makeImage(join(dir, 'scene2.png'), 'smptehdbars=s=1280x720'),
    // A flat colour in another aspect ratio: panning it changes nothing, so only subtitles differ from
    // the baseline there (and the cover-scaling of a square still is exercised).
    makeImage(join(dir, 'scene3.png'), 'color=c=0x2a4d69:s=900x900'),
    speak(join(dir, 'scene1.wav'), 'Hello there. This is the first scene.'), // ~2.4 s: shorter than... close to its scene
    speak(join(dir, 'scene2.wav'), 'The second scene has a much longer narration, which keeps going well past the end of its scene, so it must be cut.'), // ~6.5 s > 2.5 s
    speak(join(dir, 'scene3.wav'), 'Short one.'), // ~0.8 s < 2 s: padded with silence
  ]);
  const audioSeconds = await Promise.all([wav1, wav2, wav3].map(async (wav) => (await probeMedia(wav)).durationSeconds));
  scenes = [
    { imagePath: img1, audioPath: wav1, seconds: SECONDS[0]!, audioSeconds: audioSeconds[0], narration: 'Hello there. This is the first scene.' },
    {
      imagePath: img2,
      audioPath: wav2,
      seconds: SECONDS[1]!,
      audioSeconds: audioSeconds[1],
      narration: 'The second scene has a much longer narration, which keeps going well past the end of its scene, so it must be cut.',
    },
    { imagePath: img3, audioPath: wav3, seconds: SECONDS[2]!, narration: HOSTILE_NARRATION },
  ];
  clip = await assembleClip({
    scenes,
    outPath: join(dir, 'out', 'clip.mp4'),
    workDir: join(dir, 'work'),
    onProgress: (percent) => progress.push(percent),
  });
  baseline = await encodeBaseline({ scenes, outPath: join(dir, 'out', 'baseline.mp4'), workDir: join(dir, 'work') });
});

after(async () => {
  await tmp?.remove();
});

/** What every clip is: H.264 1280x720 30 fps yuv420p with 48 kHz AAC. */
function assertClipFormat(info: Awaited<ReturnType<typeof probeMedia>>): void {
  assert.equal(info.video?.codec, 'h264');
  assert.equal(info.video?.width, 1280);
  assert.equal(info.video?.height, 720);
  assert.equal(info.video?.fps, 30);
  assert.equal(info.video?.pixFmt, 'yuv420p');
  assert.equal(info.audio?.codec, 'aac');
  assert.equal(info.audio?.sampleRate, 48000);
}

describe('assembleClip: the clip', () => {
  it('is H.264 + AAC, 1280x720, 30 fps, yuv420p, as long as the scenes together', async () => {
    const info = await probeMedia(clip.outPath);
    assertClipFormat(info);
    const total = SECONDS.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(info.durationSeconds - total) <= 0.3, `duration ${info.durationSeconds} s, expected ${total} s`);
    assert.equal(clip.seconds, total);
    assert.equal(clip.bytes, (await stat(clip.outPath)).size);
    assert.ok(clip.bytes > 10_000);
  });

  it('is loudness-normalised to about -16 LUFS and not silent', async () => {
    const lufs = await integratedLoudness(clip.outPath);
    assert.ok(Math.abs(lufs - -16) <= 2, `integrated loudness ${lufs} LUFS, expected -16 ± 2`);
    const volume = await meanVolumeDb(clip.outPath);
    assert.ok(volume > -40, `mean volume ${volume} dB: silent?`);
  });

  it('is fast-start: the moov atom precedes mdat', async () => {
    const boxes = await mp4TopLevelBoxes(clip.outPath);
    assert.ok(boxes.includes('moov') && boxes.includes('mdat'), `boxes: ${boxes.join(',')}`);
    assert.ok(boxes.indexOf('moov') < boxes.indexOf('mdat'), `boxes in order: ${boxes.join(',')}`);
  });

  it('shows a different picture in each scene', async () => {
    const mids = SECONDS.map((s, i) => STARTS[i]! + s / 2);
    const frames = await Promise.all(mids.map((t) => grayFrame(clip.outPath, t)));
    for (let i = 1; i < frames.length; i++) {
      const difference = frameDifference(frames[i - 1]!, frames[i]!);
      assert.ok(difference > 15, `scenes ${i} and ${i + 1} look alike (mean difference ${difference.toFixed(2)})`);
    }
  });

  it('moves gently within a scene', async () => {
    // Rows above the subtitle band only, so the change measured is the picture's own motion.
    const [early, late] = await Promise.all([grayFrame(clip.outPath, 0.3, 160, 90), grayFrame(clip.outPath, 2.2, 160, 90)]);
    const moved = rowsDifference(early, late, 160, 0, 60);
    assert.ok(moved > 1, `no visible motion within scene 1 (mean difference ${moved.toFixed(2)})`);
    assert.ok(moved < 40, `scene 1 changes too much to be a gentle pan (mean difference ${moved.toFixed(2)})`);
  });

  it('pans by whole pixels at a steady cadence (no jitter)', async () => {
    // Ten consecutive full-size frames from scene 1; frame n is the first with pts >= (n - 0.5) / 30.
    const first = 30;
    const frames = await Promise.all(
      Array.from({ length: 10 }, (_, k) => grayFrame(clip.outPath, (first + k - 0.5) / 30, 1280, 720)),
    );
    const steps: number[] = [];
    for (let k = 1; k < frames.length; k++) {
      const { shift, residual } = bestHorizontalShift(frames[k - 1]!, frames[k]!, 1280, 0, 480);
      assert.ok(residual < 1.5, `frame ${first + k} is not a whole-pixel shift of the previous one (residual ${residual.toFixed(2)})`);
      steps.push(shift);
    }
    assert.ok(steps.every((s) => s === 0 || s === 1), `steps: ${steps.join(',')}`);
    const moves = steps.flatMap((s, i) => (s === 1 ? [i] : []));
    assert.ok(moves.length >= 2, `the picture barely moved: ${steps.join(',')}`);
    const gaps = moves.slice(1).map((m, i) => m - moves[i]!);
    assert.ok(new Set(gaps).size === 1, `uneven cadence: ${steps.join(',')}`);
  });

  it('burns in subtitles at the bottom (compared with the bare encode of the same scene)', async () => {
    // Scene 3 is a flat colour: motion cannot change it, so the only difference is the text.
    const at = 6;
    const [withText, bare] = await Promise.all([grayFrame(clip.outPath, at, 320, 180), grayFrame(baseline.outPath, at, 320, 180)]);
    // Share of pixels that changed strongly: white text and its black outline on a dark blue.
    const bottom = changedShare(withText, bare, 320, 135, 175);
    const top = changedShare(withText, bare, 320, 0, 100);
    assert.ok(bottom > 0.01, `no subtitle visible in the bottom band (${(bottom * 100).toFixed(2)}% of pixels changed)`);
    assert.ok(top < 0.001, `the picture above the subtitles differs from the baseline (${(top * 100).toFixed(2)}% changed)`);
  });

  it('reports monotonic progress from 0 to 100', () => {
    assert.ok(progress.length >= 3, `only ${progress.length} progress reports`);
    assert.equal(progress[0], 0);
    assert.equal(progress.at(-1), 100);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i]! >= progress[i - 1]!, `progress went backwards: ${progress.join(', ')}`);
      assert.ok(progress[i]! >= 0 && progress[i]! <= 100);
    }
    assert.ok(progress.some((p) => p > 0 && p < 100), `no intermediate progress: ${progress.join(', ')}`);
  });

  it('leaves nothing behind but the clip (no partial file, no scratch files)', async () => {
    const outFiles = await readdir(join(tmp.dir, 'out'));
    assert.deepEqual(outFiles.sort(), ['baseline.mp4', 'clip.mp4']);
    assert.deepEqual(await readdir(join(tmp.dir, 'work')), []);
  });
});

describe('encodeBaseline', () => {
  it('encodes the same stills and audio with the same codecs, size, rate and length', async () => {
    const info = await probeMedia(baseline.outPath);
    assertClipFormat(info);
    assert.ok(Math.abs(info.durationSeconds - clip.seconds) <= 0.3, `duration ${info.durationSeconds} s`);
    // Still frames: two times within scene 1 look the same.
    const [a, b] = await Promise.all([grayFrame(baseline.outPath, 0.3), grayFrame(baseline.outPath, 2.2)]);
    assert.ok(frameDifference(a, b) < 0.5);
  });
});

describe('assembleClip: hostile paths and text', () => {
  it('copes with quotes, colons, commas, brackets, % and non-Latin names in every path', async () => {
    const dir = join(tmp.dir, `we'ird: dir, [x]; 50%d \\ 日本`);
    await mkdir(dir, { recursive: true });
    const image = await makeImage(join(dir, `frame %d 'a:b'.png`), 'testsrc2=s=640x360');
    const result = await assembleClip({
      scenes: [{ imagePath: image, audioPath: scenes[2]!.audioPath, seconds: 1, narration: HOSTILE_NARRATION }],
      outPath: join(dir, `out "clip": 1, [final].mp4`),
      workDir: join(dir, `work; dir's [tmp]`),
    });
    const info = await probeMedia(result.outPath);
    assert.equal(info.video?.width, 1280);
    assert.ok(Math.abs(info.durationSeconds - 1) <= 0.3);
  });
});

describe('assembleClip: cancellation and failures', () => {
  it('stops ffmpeg on abort and leaves no output behind', async () => {
    const { dir, remove } = await makeTempDir('spinbot-media-abort-');
    try {
      const controller = new AbortController();
      const outPath = join(dir, 'long.mp4');
      const running = assembleClip({
        scenes: [{ ...scenes[0]!, seconds: 60, audioSeconds: undefined }],
        outPath,
        workDir: join(dir, 'work'),
        signal: controller.signal,
        onProgress: (percent) => {
          if (percent > 0) controller.abort(new Error('user pressed cancel'));
        },
      });
      await assert.rejects(running, (error: Error) => {
        assert.equal(error.name, 'AbortError');
        return true;
      });
      assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n !== 'work')), []);
      const processes = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      assert.ok(!processes.includes(dir), 'an ffmpeg process for the aborted clip is still running');
    } finally {
      await remove();
    }
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const outPath = join(tmp.dir, 'never.mp4');
    await assert.rejects(assembleClip({ scenes, outPath, workDir: join(tmp.dir, 'work'), signal: controller.signal }), { name: 'AbortError' });
    await assert.rejects(stat(outPath), { code: 'ENOENT' });
  });

  it('names the missing image and writes nothing', async () => {
    const missing = join(tmp.dir, 'no-such-image.png');
    const outPath = join(tmp.dir, 'missing.mp4');
    await assert.rejects(
      assembleClip({ scenes: [{ ...scenes[0]!, imagePath: missing }], outPath, workDir: join(tmp.dir, 'work') }),
      (error: unknown) => {
        assert.ok(isMediaError(error), String(error));
        assert.equal(error.code, 'input.missing');
        assert.match(error.message, /Scene 1 image not found/);
        assert.ok(error.message.includes(missing));
        return true;
      },
    );
    await assert.rejects(stat(outPath), { code: 'ENOENT' });
  });

  it("reports ffmpeg's own error lines when an input is unreadable, and removes the partial output", async () => {
    const { dir, remove } = await makeTempDir('spinbot-media-broken-');
    try {
      const broken = join(dir, 'broken.png');
      await writeFile(broken, 'this is not a PNG file at all');
      const outPath = join(dir, 'broken.mp4');
      await assert.rejects(
        assembleClip({ scenes: [{ ...scenes[0]!, imagePath: broken }], outPath, workDir: join(dir, 'work') }),
        (error: unknown) => {
          assert.ok(isMediaError(error), String(error));
          assert.equal(error.code, 'ffmpeg.failed');
          assert.match(error.message, /^ffmpeg exited with code \d+: .+/);
          assert.ok(error.stderrTail.length > 0);
          assert.ok(error.message.length < 1000, 'the message should be short');
          return true;
        },
      );
      assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n !== 'work' && n !== 'broken.png')), []);
    } finally {
      await remove();
    }
  });

  it('rejects a malformed request before running anything', async () => {
    await assert.rejects(assembleClip({ scenes: [], outPath: join(tmp.dir, 'x.mp4'), workDir: tmp.dir }), {
      name: 'MediaError',
      code: 'input.invalid',
    });
    await assert.rejects(
      assembleClip({ scenes: [{ ...scenes[0]!, seconds: -1 }], outPath: join(tmp.dir, 'x.mp4'), workDir: tmp.dir }),
      { name: 'MediaError', code: 'input.invalid' },
    );
  });
});
