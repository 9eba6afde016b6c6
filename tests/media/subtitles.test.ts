// Subtitles follow when each sentence is heard (the tts stage measures it), not an estimate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { narrationCues } from '../../media/subtitles.ts';

const LONG = 'Air scatters the short blue waves of sunlight far more strongly than the long red ones, all day long.';

describe('narrationCues with measured sentence timings', () => {
  const cues = narrationCues([
    {
      start: 0,
      seconds: 10,
      narration: `The sky looks blue. ${LONG}`,
      audioSeconds: 8,
      sentences: [
        { text: 'The sky looks blue.', start: 0.4, end: 1.6 },
        { text: LONG, start: 2.3, end: 7.9 },
      ],
    },
    {
      start: 10,
      seconds: 4,
      narration: 'At sunset it turns red. This one is cut off.',
      audioSeconds: 5,
      sentences: [
        { text: 'At sunset it turns red.', start: 0.2, end: 2.1 },
        { text: 'This one is cut off.', start: 4.5, end: 5 },
      ],
    },
  ]);

  it('starts each sentence on screen when it is heard, in every scene', () => {
    for (const [text, start] of [
      ['The sky looks blue.', 0.4],
      ['Air scatters', 2.3],
      ['At sunset it turns red.', 10.2],
    ] as const) {
      const cue = cues.find((c) => c.text.startsWith(text));
      assert.ok(cue, `a cue for "${text}"`);
      assert.ok(Math.abs(cue.start - start) < 1e-9, `"${text}" shown at ${cue.start}, heard at ${start}`);
    }
  });

  it("splits a long sentence into short lines within the sentence's own spoken time", () => {
    const lines = cues.filter((c) => c.start >= 2.3 && c.start < 10);
    assert.ok(lines.length >= 2, 'the 18-word sentence is more than one line');
    assert.equal(lines.map((c) => c.text).join(' '), LONG);
    assert.ok(lines.every((c) => c.start < 7.9));
  });

  it('keeps a sentence up through the pause after it, and the last one 0.3 s after the voice stops', () => {
    const first = cues.find((c) => c.text === 'The sky looks blue.')!;
    assert.equal(first.end, 2.3);
    const lastOfScene = cues.filter((c) => c.start < 10).at(-1)!;
    assert.ok(Math.abs(lastOfScene.end - 8.2) < 1e-9, `ends at ${lastOfScene.end}`);
  });

  it('never shows a sentence the scene cuts off, nor a line past the scene end', () => {
    assert.ok(!cues.some((c) => c.text.includes('cut off')));
    assert.ok(cues.filter((c) => c.start >= 10).every((c) => c.end <= 14));
  });

  it('estimates as before when a scene has no timings (e.g. kept from a render before them)', () => {
    const estimated = narrationCues([{ start: 0, seconds: 4, narration: 'one two three', audioSeconds: 3, sentences: [] }]);
    assert.deepEqual(estimated, [{ start: 0, end: 3.3, text: 'one two three' }]);
  });
});
