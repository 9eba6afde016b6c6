// A length written as an option is read by one rule wherever it is written (the Telegram
// /generate seconds=, the CLI's --seconds, Discord's seconds option and a prompt's own words):
// negative, zero, absurd and non-numeric values are refused with a sentence that gives the range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSecondsValue } from '../../agent/nodes/understand.ts';
import { parseRequest } from '../../bot/cli.ts';
import { parseGenerateArgs } from '../../bot/telegram/features/generate.ts';

const BAD = ['-5', '0', '4', '181', '100000', '1e9', '1e1', '0x10', '0b11', 'abc', 'Infinity', 'NaN', '5;', '５s', ''];
const RANGE = /\b5 to 180\b/;

test('every bad length option is refused with the allowed range, wherever it is written', () => {
  for (const value of BAD) {
    assert.throws(() => parseSecondsValue(value), { id: 'seconds.outOfRange', message: RANGE }, `value ${JSON.stringify(value)}`);
    assert.throws(() => parseRequest(['cats', `--seconds=${value}`]), { id: 'seconds.outOfRange', message: RANGE }, `--seconds=${value}`);
    if (value) {
      assert.throws(() => parseRequest(['cats', '--seconds', value]), { id: 'seconds.outOfRange', message: RANGE }, `--seconds ${value}`);
      assert.throws(() => parseGenerateArgs(`seconds=${value} cats`), { id: 'seconds.outOfRange', message: RANGE }, `seconds=${value}`);
    }
  }
});

test('good lengths are read the same way everywhere (full-width digits are normalised)', () => {
  assert.equal(parseSecondsValue('20'), 20);
  assert.equal(parseSecondsValue(' ２０ '), 20);
  assert.equal(parseSecondsValue('12.5'), 12.5);
  assert.equal(parseRequest(['cats', '--seconds', '20']).seconds, 20);
  assert.deepEqual(parseGenerateArgs('seconds=20 voice=anna why the sky is blue'), { prompt: 'why the sky is blue', voice: 'anna', seconds: 20 });
});
