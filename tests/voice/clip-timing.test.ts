// The made clip, as a viewer gets it: Whisper (run on the clip's own audio track) understands the
// narration (WER <= 15 %), and each sentence's subtitle appears within 0.3 s of when it is heard.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SpokenSentence } from '../../gpu-bridge/contracts/index.ts';
import { planTimeline } from '../../media/graph.ts';
import { narrationCues } from '../../media/subtitles.ts';
import { handWrittenPlan, openTestStudio, tempDir } from '../e2e/helpers.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

// Whisper base on the clip's audio: the word error rate against the plan, and when the first word
// of each sentence is heard (null where Whisper missed it; its start sharpened to where the sound
// begins, as Whisper starts a word after a silence up to ~0.5 s early).
const HEAR = `
import json, sys
from spinbot_worker import asr
audio, sentences = sys.argv[1], json.loads(sys.argv[2])
heard = asr.transcribe(audio, language="en", word_timestamps=True)
script = " ".join(sentences)
matched = asr.match_words(script, asr.sharpen_starts(audio, heard.words))
starts, first = [], 0
for sentence in sentences:
    starts.append(matched[first].start if matched[first] else None)
    first += len(asr.normalize_words(sentence))
print(json.dumps({"wer": asr.word_error_rate(script, heard.text), "text": heard.text, "starts": starts}))
`;

test('the clip is narrated so Whisper understands it, and every subtitle appears when its sentence is heard', async (t) => {
  const studio = await openTestStudio(t);
  // Two scenes of two sentences each: sentences start at scene changes and within a scene.
  const sky = handWrittenPlan(20, 4);
  const plan = { ...sky, scenes: [0, 2].map((i) => ({ ...sky.scenes[i]!, narration: `${sky.scenes[i]!.narration} ${sky.scenes[i + 1]!.narration}`, seconds: 10 })) };
  const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'voice-timing' } });
  assert.match(clip.backends.tts ?? '', /^Piper joe-medium/, 'English is narrated by Piper');

  const dir = await tempDir(t);
  const audio = path.join(dir, 'clip.wav');
  await run('ffmpeg', ['-v', 'error', '-i', clip.location, '-vn', '-ac', '1', '-ar', '16000', audio]);

  // The cues exactly as assembly burns them in: each scene's measured sentences on the clip's timeline.
  const timeline = planTimeline(plan.scenes.map((s) => s.seconds));
  const spans = await Promise.all(
    plan.scenes.map(async (scene, i) => {
      const stored = await studio.storage.get(`jobs/${clip.jobId}/scene-${String(i + 1).padStart(2, '0')}.sentences.json`);
      const sentences = SpokenSentence.array().parse(JSON.parse(stored.toString('utf8')));
      return { start: timeline[i]!.start, seconds: timeline[i]!.seconds, narration: scene.narration, sentences };
    }),
  );
  const sentences = spans.flatMap((span) => span.sentences.map((s) => ({ text: s.text, cue: narrationCues([span]).find((c) => c.start >= span.start + s.start - 1e-9)! })));
  assert.equal(sentences.length, 4, 'every sentence has its measured timing');

  const { stdout } = await run(path.join(ROOT, '.venv/bin/python'), ['-c', HEAR, audio, JSON.stringify(sentences.map((s) => s.text))], {
    env: { ...process.env, PYTHONPATH: path.join(ROOT, 'gpu-bridge/worker') },
  });
  const heard = JSON.parse(stdout) as { wer: number; text: string; starts: Array<number | null> };
  assert.ok(heard.wer <= 0.15, `WER ${(heard.wer * 100).toFixed(0)} %: heard "${heard.text}"`);
  let checked = 0;
  sentences.forEach(({ text, cue }, i) => {
    const spoken = heard.starts[i];
    if (spoken === null || spoken === undefined) return;
    checked++;
    assert.ok(Math.abs(cue.start - spoken) <= 0.3, `"${text}": subtitle at ${cue.start.toFixed(2)} s, heard at ${spoken.toFixed(2)} s`);
  });
  assert.ok(checked >= sentences.length - 1, `Whisper placed ${checked} of ${sentences.length} sentence starts`);
});
