import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import type { SwaggerOptions } from '@fastify/swagger';
import type { App } from './types.js';

const openapiOptions = (version: string): SwaggerOptions => ({
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Parley API',
      version,
      description:
        'Self-hostable, multi-tenant AI chatbot backend. Errors are application/problem+json (RFC 9457) with a stable `code`.',
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from /v1/auth/*' },
      },
    },
    tags: [
      { name: 'auth', description: 'Accounts, sign-in and sessions' },
      { name: 'operations', description: 'Health, readiness and metrics' },
    ],
  },
});

/** What a request for the docs may carry to the docs application: its conditional and range headers. */
const FORWARDED = ['accept', 'accept-encoding', 'if-none-match', 'if-modified-since', 'range'];
/** Headers the docs application's answer carries that belong to its own (in-memory) connection. */
const OWN_CONNECTION = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/** If-None-Match (RFC 9110 §13.1.2): `*`, or a list of tags compared weakly. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

interface DocsAnswer {
  status: number;
  headers: Array<[string, unknown]>;
  body: Buffer;
}

/** Swagger UI's page and files, and the document in its two forms, are under twenty. */
const MAX_FILES = 32;

const withoutHead = (method: RouteOptions['method']) => (Array.isArray(method) ? method.filter((m) => m !== 'HEAD') : method === 'HEAD' ? [] : [method]);

/**
 * The application the document and Swagger UI come from, made on the first request for either.
 * The routes are declared again with their schemas (and no validation or serialisation: nothing is
 * served from them) so @fastify/swagger sees what the server serves; its HEAD routes are the ones
 * Fastify adds for each GET, which the document leaves out anyway.
 */
async function buildDocsApp(routes: RouteOptions[], version: string): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const docs = Fastify({ logger: false });
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await docs.register(swagger, openapiOptions(version));
  await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } });
  docs.after(() => {
    for (const route of routes) {
      const method = withoutHead(route.method);
      if (method.length === 0) continue;
      docs.route({ method, url: route.url, schema: route.schema, config: route.config, ...(route.constraints ? { constraints: route.constraints } : {}), handler: async () => null });
    }
  });
  await docs.ready();
  return docs;
}

/** Serves Swagger UI's pages from the docs application. */
function docsForwarder(docsApp: () => Promise<FastifyInstance>) {
  // Swagger UI's files (the bundle is 1.5 MB) were read and copied for each request, so clients
  // that asked for them and read slowly, or pipelined them, held a copy each (4.7 GB from 10
  // connections). Kept once they are asked for; a handful of paths, capped against made-up ones.
  const files = new Map<string, Promise<DocsAnswer>>();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const path = request.url.split('?', 1)[0]!;
    // A plain GET of a file is answered from memory: the same bytes for every client.
    const plain = request.method === 'GET' && Object.keys(headers).every((name) => name === 'accept' || name === 'accept-encoding');
    const read = async () => {
      const injected = await (await docsApp()).inject({ method: request.method === 'HEAD' ? 'HEAD' : 'GET', url: request.url, headers });
      const kept = Object.entries(injected.headers).filter(([name, value]) => value !== undefined && !OWN_CONNECTION.has(name));
      return { status: injected.statusCode, headers: kept, body: injected.rawPayload };
    };
    let answer: DocsAnswer;
    if (plain && (files.has(path) || files.size < MAX_FILES)) {
      // Requests that come while the first is read wait for it rather than read a copy each.
      const reading = files.get(path) ?? read();
      files.set(path, reading);
      answer = await reading.catch((error: unknown) => {
        files.delete(path);
        throw error;
      });
      if (answer.status !== 200) files.delete(path);
    } else {
      answer = await read();
    }
    // Not a page of the docs: the server's own 404.
    if (answer.status === 404) return reply.callNotFound();
    reply.code(answer.status);
    for (const [name, value] of answer.headers) reply.header(name, value);
    return reply.send(answer.body);
  };
}

/**
 * /openapi.json is generated from the route schemas; /docs serves Swagger UI over it. Both are
 * made on their first request: loading @fastify/swagger-ui, @fastify/static and yaml and declaring
 * Swagger UI's routes cost every start ~60 ms and ~1 MiB that most servers never use.
 */
export function registerOpenApi(app: App, version: string): void {
  const routes: RouteOptions[] = [];
  let docs: Promise<FastifyInstance> | null = null;
  const docsApp = () =>
    (docs ??= buildDocsApp(routes, version).catch((error: unknown) => {
      docs = null;
      throw error;
    }));

  // Serialised once: the document is 330 kB, and writing it out per request cost ~8 ms of CPU, so
  // 20 clients asking for it without pause (no account needed) held /health at ~240 ms.
  let document: Promise<{ body: Buffer; etag: string }> | null = null;
  const openapiDocument = () =>
    (document ??= docsApp().then(
      (app) => {
        const body = Buffer.from(JSON.stringify(app.swagger()));
        return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
      },
      (error: unknown) => {
        document = null;
        throw error;
      },
    ));
  app.get('/openapi.json', { schema: { hide: true } }, async (request, reply) => {
    const { body, etag } = await openapiDocument();
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });
  const forward = docsForwarder(docsApp);
  app.get('/docs', { schema: { hide: true } }, forward);
  app.get('/docs/*', { schema: { hide: true } }, forward);

  // Every route declared from here on (the docs' own, above, are not) goes into the document.
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
}
