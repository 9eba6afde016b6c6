// Every failure of the HTTP API as JSON {error: {code, message}}: a UserError keeps its id and its
// sentence (the same words chat users read) with a fitting HTTP status; a request Fastify refuses
// (too large, wrong content type, broken JSON) gets a sentence of its own; anything else is logged
// and answered with a generic 500 that leaks nothing.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError } from 'zod';
import { isConnectionError, isUserError, UNAVAILABLE, type UserErrorId } from '../pipeline/errors.ts';
import type { ErrorBody } from './contracts.ts';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_BY_ID: Partial<Record<UserErrorId, number>> = {
  'job.notFound': 404,
  'voice.notFound': 404,
  'limit.running': 429,
  'limit.daily': 429,
  'access.denied': 403,
  'upload.tooLarge': 413,
  'queue.unavailable': 503,
  'llm.unreachable': 503,
  'llm.modelMissing': 503,
  'setup.missing': 503,
  'setup.modelInvalid': 503,
  'render.noGpu': 503,
  'storage.full': 507,
};

/** A request body that does not match its schema: which fields, and what was wrong with each. */
export function invalidRequest(error: ZodError, what = 'The request body'): ApiError {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : 'body';
    return `${where}: ${issue.message}`;
  });
  return new ApiError(400, 'request.invalid', `${what} is not valid (${problems.join('; ')}). See /docs for the fields.`);
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The status and body for any error a handler threw (or Fastify raised before it). */
export function describeApiError(error: unknown, limits: { bodyKb: number; uploadMb: number }): { status: number; body: ErrorBody; unexpected: boolean } {
  const answer = (status: number, code: string, message: string, unexpected = false) => ({ status, body: errorBody(code, message), unexpected });
  if (error instanceof ApiError) return answer(error.status, error.code, error.message);
  if (isUserError(error)) return answer(STATUS_BY_ID[error.id] ?? 422, error.id, error.message);
  if (isConnectionError(error)) return answer(503, 'queue.unavailable', UNAVAILABLE);
  const e = error as FastifyError;
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer(413, 'request.tooLarge', `The request body is larger than ${limits.bodyKb} KB; a plan or prompt never needs that much.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer(415, 'request.contentType', 'Send the body as JSON (Content-Type: application/json); voice samples go to POST /v1/voices as multipart/form-data.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return answer(400, 'request.invalidJson', 'The body is not valid JSON; send a JSON object (see /docs).');
    case 'FST_REQ_FILE_TOO_LARGE':
      return answer(413, 'upload.tooLarge', `That file is larger than the ${limits.uploadMb} MB limit; a voice sample needs only 3-30 s of speech.`);
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return answer(400, 'request.invalid', 'Send one "name" field and one "file" field, nothing else.');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return answer(415, 'request.contentType', 'Send the voice sample as multipart/form-data with a "name" field and then a "file" field.');
  }
  // Other client errors Fastify raises (e.g. a malformed URL) keep their status.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return answer(e.statusCode, 'request.invalid', `The request could not be read (${e.message}).`);
  }
  return answer(500, 'internal', 'Something went wrong on our side; the error was logged. Please try again.', true);
}

export function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);
}

/** What the log gets for an unexpected failure: the route and the stack, never headers (they hold keys). */
export function logLine(request: FastifyRequest, error: unknown): string {
  return `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}: ${(error as Error)?.stack ?? String(error)}`;
}
