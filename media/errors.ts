// Errors from media/. Match on `name` and `code`, never `instanceof` (DESIGN.md §2.6): the pipeline maps
// them onto its own UserError ids. Nothing here is retryable: a bad input or an ffmpeg failure on the
// same files fails the same way again.

export type MediaErrorCode =
  | 'input.invalid' // the request itself is malformed (no scenes, bad seconds, ...)
  | 'input.missing' // an image or narration file does not exist / is unreadable
  | 'output.unwritable' // the output or work folder cannot be created or written
  | 'ffmpeg.failed' // ffmpeg or ffprobe ran and failed; the message carries its last stderr lines
  | 'ffmpeg.unavailable'; // the binary could not be started at all

export class MediaError extends Error {
  override readonly name = 'MediaError';
  readonly retryable = false;
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    options?: { cause?: unknown; stderrTail?: string[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.stderrTail = options?.stderrTail ?? [];
  }
  readonly stderrTail: string[];
}

export function isMediaError(error: unknown): error is MediaError {
  return error instanceof Error && error.name === 'MediaError' && typeof (error as MediaError).code === 'string';
}

/** The error an aborted assembly rejects with: `name === 'AbortError'`, like fetch() and Node's own APIs. */
export function abortError(signal: AbortSignal): Error {
  const error = new Error('The media operation was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
