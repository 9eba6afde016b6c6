// One conformance suite for every ChatChannel adapter (console, Discord, Telegram): each adapter's
// harness plays the user on its platform (the real client libraries against the emulators, or the
// console's streams) and reports what the user can see. The suite checks the same behaviour on
// all of them: replies, one status message updated in place, video files, links, questions
// answered with buttons, and errors worded for the user (private where the platform allows).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ChatChannel, ProgressView } from '../../bot/channel.ts';
import { UserError } from '../../pipeline/errors.ts';

/** One message as the user sees it. */
export interface Seen {
  text: string;
  buttons: string[];
  /** The bytes of an attached file, when the message carries one. */
  file?: Buffer;
  /** Only the user can see it (Discord ephemeral). */
  private: boolean;
  /** Every text the message showed, first to last (one entry where messages are not edited). */
  versions: string[];
}

export interface ChannelHarness {
  capabilities: {
    /** Messages are edited in place (chat platforms); the console prints new lines instead. */
    editsInPlace: boolean;
    privateErrors: boolean;
    /** Other people can press the buttons too (the adapter must refuse them). */
    otherUsers: boolean;
  };
  /** A new conversation with the test user. */
  open(): Promise<ChatChannel>;
  /** What the user sees in the current conversation, oldest first. */
  seen(): Seen[];
  /** Waits until `predicate` holds for what the user sees. */
  waitFor<T>(predicate: (seen: Seen[]) => T | undefined | false | null, timeoutMs?: number): Promise<T>;
  /**
   * The user (or someone else in the chat) presses the button labelled `label` on the latest
   * message that has one. Resolves with what the platform showed that someone else in answer
   * (a refusal); undefined for the user's own presses.
   */
  press(label: string, options?: { otherUser?: boolean }): Promise<string | undefined>;
  close(): Promise<void>;
}

const view = (overall: number, message: string): ProgressView => ({
  title: 'Conformance clip',
  stage: overall < 50 ? 'tts' : 'assemble',
  percent: overall,
  overall,
  message,
  etaSeconds: 10,
});

function tinyMp4(dir: string): string {
  const file = path.join(dir, 'conformance-clip.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=teal:s=160x90:d=1', '-f', 'lavfi', '-i', 'sine=d=1', '-shortest', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file]);
  return file;
}

export function runChannelConformance(name: string, makeHarness: () => Promise<ChannelHarness>): void {
  let harness: ChannelHarness;
  let dir: string;
  before(async () => {
    harness = await makeHarness();
    dir = mkdtempSync(path.join(tmpdir(), 'spinbot-conformance-'));
  });
  after(async () => {
    await harness?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${name}: reply shows the text and its buttons`, async () => {
    const channel = await harness.open();
    await channel.reply('Hello from the studio.', { buttons: [{ id: 'noop:1', label: 'Later' }] });
    const message = await harness.waitFor((seen) => seen.find((m) => m.text.includes('Hello from the studio.')));
    assert.deepEqual(message.buttons, ['Later']);
    assert.equal(message.private, false);
  });

  test(`${name}: progress is one status message updated in place, ending with the final text and no buttons`, async () => {
    const channel = await harness.open();
    const before = harness.seen().length;
    await channel.progress(view(10, 'Recording the narration'), { buttons: [{ id: 'job:cancel:conformance-1', label: 'Cancel' }] });
    if (harness.capabilities.editsInPlace) {
      // Chat platforms show Cancel under the status while the job runs (the console has no buttons there).
      await harness.waitFor((seen) => seen.slice(before).find((m) => m.buttons.includes('Cancel')));
    }
    await channel.progress(view(40, 'Drawing the pictures'), { buttons: [{ id: 'job:cancel:conformance-1', label: 'Cancel' }] });
    await channel.progress(view(90, 'Assembling the clip'), { buttons: [{ id: 'job:cancel:conformance-1', label: 'Cancel' }] });
    await channel.finishProgress('All done: the clip is ready.');
    const seen = harness.seen().slice(before);
    const last = seen.at(-1)!;
    assert.match(last.text, /All done: the clip is ready\./);
    assert.deepEqual(last.buttons, [], 'no buttons once finished');
    if (harness.capabilities.editsInPlace) {
      assert.equal(seen.length, 1, 'exactly one status message');
      assert.match(last.versions[0]!, /Conformance clip/);
      assert.match(last.versions[0]!, /Recording the narration/);
      assert.ok(last.versions.length >= 2, 'the status was edited');
    } else {
      assert.match(seen.map((m) => m.text).join('\n'), /Recording the narration/);
    }
  });

  test(`${name}: sendVideo posts the file with its caption and buttons`, async () => {
    const channel = await harness.open();
    const file = tinyMp4(dir);
    await channel.sendVideo({ path: file, caption: 'Your clip "Conformance" is ready.', buttons: [{ id: 'job:retry:conformance-1', label: 'Retry' }, { id: 'job:variation:conformance-1', label: 'Variation' }] });
    const message = await harness.waitFor((seen) => seen.find((m) => m.text.includes('Your clip "Conformance" is ready.')));
    assert.ok(message.file?.equals(readFileSync(file)), 'the same bytes arrive');
    assert.deepEqual(message.buttons, ['Retry', 'Variation']);
  });

  test(`${name}: sendLink shows the link and the caption`, async () => {
    const channel = await harness.open();
    await channel.sendLink({ url: 'https://files.example.test/clip.mp4', caption: 'Too large to attach; here is a link.' });
    const message = await harness.waitFor((seen) => seen.find((m) => m.text.includes('https://files.example.test/clip.mp4')));
    assert.match(message.text, /Too large to attach/);
  });

  test(`${name}: ask shows the choices and resolves with the one the user pressed`, async () => {
    const channel = await harness.open();
    const answer = channel.ask('Render this plan?', [
      { id: 'approve', label: 'Approve', style: 'success' },
      { id: 'cancel', label: 'Cancel', style: 'danger' },
    ]);
    const question = await harness.waitFor((seen) => seen.find((m) => m.text.includes('Render this plan?') && m.buttons.length === 2));
    assert.deepEqual(question.buttons, ['Approve', 'Cancel']);
    if (harness.capabilities.otherUsers) {
      // Someone else's press is refused, in words, and leaves the question open for the user.
      const refusal = await harness.press('Approve', { otherUser: true });
      assert.match(refusal ?? '', /for someone else/);
      const open = await Promise.race([answer.then(() => 'answered'), new Promise((resolve) => setTimeout(resolve, 300, 'open'))]);
      assert.equal(open, 'open', "another user's press must not answer the question");
    }
    await harness.press('Approve');
    assert.equal(await answer, 'approve');
    if (harness.capabilities.editsInPlace) {
      await harness.waitFor((seen) => seen.find((m) => m.text.includes('Render this plan?') && m.buttons.length === 0));
    }
  });

  test(`${name}: a question nobody answers resolves with null`, async () => {
    const channel = await harness.open();
    assert.equal(await channel.ask('Still there?', [{ id: 'yes', label: 'Yes' }], { timeoutMs: 300 }), null);
  });

  test(`${name}: fail shows a user error's own words${name === 'discord' ? ' privately' : ''}, and hides internal errors`, async () => {
    const channel = await harness.open();
    await channel.fail(new UserError('voice.tooShort', 'That sample is too short; I need 3-30 s of speech.'));
    const message = await harness.waitFor((seen) => seen.find((m) => m.text.includes('That sample is too short; I need 3-30 s of speech.')));
    assert.equal(message.private, harness.capabilities.privateErrors);
    const channel2 = await harness.open();
    await channel2.fail(new Error('ECONNRESET at internal.db:42'));
    const generic = await harness.waitFor((seen) => seen.find((m) => /Something went wrong/.test(m.text)));
    assert.doesNotMatch(generic.text, /ECONNRESET|internal\.db/);
  });
}
