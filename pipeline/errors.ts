// Errors a user should see: an identifier (stable, for tests and logs) and one sentence worded for
// the user that says what happened and what to do. Everything else is logged, not shown.
// Match on `name` and `id`, never `instanceof`: errors cross module copies and processes.

export type UserErrorId =
  | 'prompt.empty'
  | 'prompt.tooLong'
  | 'seconds.outOfRange'
  | 'output.unwritable'
  | 'plan.invalid'
  | 'plan.sceneOutOfRange'
  | 'llm.unreachable'
  | 'llm.modelMissing'
  | 'render.failed'
  | 'render.noGpu'
  | 'render.cancelled'
  | 'setup.missing'
  | 'setup.modelInvalid'
  // planner (agent/): a language tag it cannot use
  | 'language.invalid'
  // "present it yourself" before any photo was sent
  | 'presenter.noPhoto'
  | 'presenter.photoRefused'
  // chat front-ends (bot/): uploads, saved voices, access and limits, jobs
  | 'upload.tooLarge'
  | 'upload.unsupported'
  | 'upload.forbiddenHost'
  | 'upload.failed'
  | 'upload.tooManyPixels'
  | 'voice.tooShort'
  | 'voice.tooLong'
  | 'voice.nameInvalid'
  | 'voice.notFound'
  // a trained style (LoRA) the user does not have (bot/styles.ts)
  | 'style.notFound'
  | 'voice.limit'
  | 'access.denied'
  | 'limit.running'
  | 'limit.daily'
  | 'job.notFound'
  // the queue (Redis) or storage cannot be reached, or a stage failed
  | 'queue.unavailable'
  | 'storage.full';

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly id: UserErrorId,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof Error && error.name === 'UserError' && typeof (error as UserError).id === 'string';
}

/** What a user is told while Redis (the queue, the job records) cannot be reached. */
export const UNAVAILABLE = 'The queue is unavailable, try again in a minute.';

/** Redis is not reachable (refused, reset, closed, or the client gave up on the command). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string; name?: string } | null;
  if (!e) return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(e.code ?? '')) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable|Connection is closed|enableOfflineQueue|max retries per request/i.test(e.message ?? '');
}
