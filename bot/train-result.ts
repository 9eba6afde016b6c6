// The bot's side of the TrainResult contract: a training job's return value is read only through
// here, so a worker that sends something else fails with a sentence instead of a wrong message.
import { TrainResult } from '../gpu-bridge/contracts/index.ts';

export function parseTrainResult(value: unknown): TrainResult {
  const parsed = TrainResult.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`The training result does not match its contract: ${first?.path.join('.') || '(result)'}: ${first?.message}`);
  }
  return parsed.data;
}

/** One line for the chat about a finished training job. */
export function describeTrainResult(result: TrainResult): string {
  if (result.kind === 'train_lora') {
    // The loss only arrives at the end: ComfyUI's progress messages carry the step, not the loss.
    const loss = result.finalLoss === null ? '' : `; final loss ${result.finalLoss.toFixed(4)}`;
    return `Style ready: ${result.images} pictures, ${result.steps} steps on ${result.baseModel} (${result.backend.name})${loss}.`;
  }
  const enough = result.enough ? 'enough to clone from' : 'not enough yet to clone from';
  const note = result.note ? ` ${result.note}` : '';
  return `Voice profile ready: ${result.cleanSpeechSeconds.toFixed(0)} s of clean speech, ${enough}; reference ${result.referenceSeconds.toFixed(1)} s: "${result.referenceText}".${note}`;
}
