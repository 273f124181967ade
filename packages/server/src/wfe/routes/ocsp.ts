import type { FastifyInstance, FastifyReply } from 'fastify';
import { OcspResponseStatus, ocspErrorResponse } from '../../ca/ocsp.ts';
import type { OcspAnswer, OcspResponder } from '../../revocation/ocsp-responder.ts';

const MALFORMED = ocspErrorResponse(OcspResponseStatus.malformedRequest);
/** Standard base64 (RFC 6960 Appendix A.1), and base64url, which some clients send. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** An OCSP request for a few certificates is a few hundred bytes. */
const MAX_REQUEST_BYTES = 16 * 1024;

/**
 * RFC 6960 Appendix A.1: POST /ca/ocsp with an application/ocsp-request body, and GET /ca/ocsp/<url-encoded
 * base64 of the DER request>. Every answer is application/ocsp-response with HTTP 200, errors included
 * (malformedRequest for anything unparseable: never a problem document, never a 500). GET answers carry
 * RFC 5019 §6.2 caching headers.
 */
export function registerOcsp(app: FastifyInstance, responder: OcspResponder): void {
  app.register(async (scope) => {
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((err, request, reply) => {
      // Body too large, unreadable body: still an OCSP answer.
      request.log.debug({ err }, 'OCSP request refused');
      return sendOcsp(reply, { body: MALFORMED }, false);
    });

    scope.post('/ca/ocsp', async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) return sendOcsp(reply, { body: MALFORMED }, false);
      return sendOcsp(reply, await responder.respond(body), false);
    });

    scope.get('/ca/ocsp/*', async (request, reply) => {
      const raw = request.url.slice('/ca/ocsp/'.length).split('?')[0]!;
      let text: string;
      try {
        text = decodeURIComponent(raw);
      } catch {
        return sendOcsp(reply, { body: MALFORMED }, true);
      }
      if (!BASE64.test(text) || text.length > (MAX_REQUEST_BYTES * 4) / 3) {
        return sendOcsp(reply, { body: MALFORMED }, true);
      }
      return sendOcsp(reply, await responder.respond(Buffer.from(text, 'base64')), true);
    });
  });
}

function sendOcsp(reply: FastifyReply, answer: OcspAnswer, viaGet: boolean): FastifyReply {
  const c = answer.cache;
  if (viaGet && c) {
    reply
      .header('Cache-Control', `public, max-age=${c.maxAgeSeconds}, no-transform, must-revalidate`)
      .header('Last-Modified', new Date(c.thisUpdate).toUTCString())
      .header('Expires', new Date(c.nextUpdate).toUTCString())
      .header('ETag', c.etag);
  }
  return reply.code(200).type('application/ocsp-response').send(answer.body);
}
