import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../errors/app-error.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer, code: 'invalid_json' | 'invalid_form'): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new AppError(code, 'The request body is not valid UTF-8');
  }
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * A body is read as it was sent, in UTF-8 (RFC 8259 for JSON). A compressed one, or one that says
 * it is in another charset, answers 415 saying what to change, where decoding it anyway would
 * answer "not valid UTF-8" (400) and send its client looking at its text. Null when it is readable.
 */
export function notReadableAsSent(headers: FastifyRequest['headers']): AppError | null {
  const coding = headers['content-encoding']?.trim();
  if (coding && coding.toLowerCase() !== 'identity') {
    return new AppError('unsupported_media_type', `Request bodies are read as sent: send this one uncompressed, without Content-Encoding: ${coding.slice(0, 40)}`);
  }
  const charset = CHARSET.exec(headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && !UTF8.has(charset)) {
    return new AppError('unsupported_media_type', `Request bodies are read as UTF-8: send this one in UTF-8 (charset=utf-8), not charset=${charset.slice(0, 40)}`);
  }
  return null;
}

function readableAsSent(request: FastifyRequest): void {
  const problem = notReadableAsSent(request.headers);
  if (problem) throw problem;
}

function parseJson(body: Buffer): unknown {
  const text = decodeUtf8(body, 'invalid_json');
  if (text.trim() === '') return undefined;
  try {
    // protoAction "error": {"__proto__": …} is refused rather than silently kept.
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new AppError('invalid_json', 'The request body is not valid JSON');
  }
}

function decodeFormComponent(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new AppError('invalid_form', 'The form body has malformed percent-encoding or invalid UTF-8');
  }
}

/** application/x-www-form-urlencoded, as OAuth2 clients send it. A repeated field is refused. */
function parseForm(body: Buffer): Record<string, string> {
  const text = decodeUtf8(body, 'invalid_form');
  const fields: Record<string, string> = Object.create(null);
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeFormComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = decodeFormComponent(eq === -1 ? '' : pair.slice(eq + 1));
    if (name in fields) throw new AppError('invalid_form', `The form field "${name}" appears more than once`);
    fields[name] = value;
  }
  return { ...fields };
}

/**
 * An absent or empty body reads as `{}` (SPEC §2): a POST whose fields are all optional passes
 * (the seeds' mobile app creates a conversation with a bare POST), and one with required fields
 * names the first missing field. A JSON `null` sent on purpose is still refused by the schema.
 */
export function registerAbsentBodyAsEmpty(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && (request.routeOptions.schema?.body as { type?: unknown } | undefined)?.type === 'object') {
      request.body = {};
    }
    done();
  });
}

/** JSON only; anything else answers 415. Routes that take forms add registerFormParser in their own scope. */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  for (const type of ['application/json', /^application\/[a-z0-9.-]+\+json$/]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
      try {
        readableAsSent(request);
        done(null, parseJson(body as Buffer));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
  }
}

/**
 * Forms only where a protocol demands them (the OAuth2 token endpoint): elsewhere a form
 * post, which browsers send cross-site without a preflight, answers 415.
 */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      readableAsSent(request);
      done(null, parseForm(body as unknown as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
