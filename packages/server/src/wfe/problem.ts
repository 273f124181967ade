import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AcmeError } from '../errors.ts';

/**
 * The one place errors become responses (RFC 7807 application/problem+json). AcmeErrors render as they
 * are; Fastify's own client errors (bad media type 415, body too large 413, unparseable body 400) become
 * malformed with that status; anything else is serverInternal, logged with its stack and never sent.
 */
export function toAcmeError(err: unknown, request: FastifyRequest): AcmeError {
  if (err instanceof AcmeError) return err;
  const fe = err as Partial<FastifyError>;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new AcmeError('malformed', clientErrorDetail(fe, status), { status });
  }
  request.log.error({ err }, 'unexpected error');
  return new AcmeError('serverInternal', 'the server experienced an internal error');
}

function clientErrorDetail(fe: Partial<FastifyError>, status: number): string {
  if (status === 415) return 'the request Content-Type must be application/jose+json';
  if (status === 413) return 'the request body is too large';
  return fe.message ?? 'malformed request';
}

export function sendProblem(reply: FastifyReply, err: AcmeError): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  if (err.extra.location && typeof err.extra.location === 'string')
    reply.header('Location', err.extra.location);
  const { location: _l, ...rest } = err.toProblem();
  return reply.code(err.status).type('application/problem+json').send(rest);
}
