// Requests Node refuses before Fastify sees them (headers too large, a malformed Content-Length,
// a body that arrives too slowly) still get a problem+json answer with an x-request-id (SPEC §2),
// not Node's bare status line or Fastify's own JSON.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { newId } from '../lib/ids.js';
import { requestIdFor } from './hooks.js';
import { toProblem } from './problem.js';

// Time for the client to read the answer before the socket is torn down: an immediate destroy
// with unread request bytes pending sends a reset that can discard the answer on the client.
const LINGER_MS = 1000;

function errorFor(code: string | undefined): AppError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout', 'The request was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('headers_too_large', 'The request line and headers are larger than this server accepts');
    default:
      return new AppError('bad_request', 'The request is not valid HTTP/1.1');
  }
}

/** Fastify's clientErrorHandler: `this` is the Fastify instance. */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // An answer already under way cannot be replaced without corrupting what the client reads.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse & { req?: IncomingMessage } })._httpMessage;
  const requestId = inFlight?.req ? requestIdFor(inFlight.req) : newId();
  const { problem } = toProblem(errorFor(error.code), requestId);
  this.log.info({ request_id: requestId, status: problem.status, code: problem.body.code, cause: error.code }, 'client error');
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(problem.body);
  const head = [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
