// Exports (§9, §12): one conversation as a document, and every conversation of a chatbot streamed.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Type } from 'typebox';
import type { Services } from '../../compose.js';
import { createScoped } from '../../db/scope.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { App } from '../../http/types.js';
import { bindEndUser, EndUserQuery } from '../api-keys/end-user.js';
import { principalOf } from '../auth/authenticate.js';
import { createExportSlots, MAX_EXPORTS_PER_ACCOUNT } from './export-slots.js';
import { CONTENT_TYPES, EXPORT_BATCH_BYTES, EXPORT_BATCH_SIZE } from './export-stream.js';
import { createExportsRepo, scopedAccess } from './exports.repo.js';
import { BulkExportQuery, ExportDocumentSchema } from './exports.schemas.js';
import { createExportsService, type BulkExport, type ExportsService } from './exports.service.js';

const tags = ['exports'];
const security = bearerSecurity;

const BulkExportAnswer = {
  description:
    'Streamed. `json`: an array of documents; `ndjson`: one document per line; `csv`: a UTF-8 byte order mark, a header line, ' +
    'one row per conversation. A response that ends without its whole body (the connection cut) is a failed export, never a shorter one.',
  content: {
    'application/json': { schema: Type.Array(ExportDocumentSchema) },
    'application/x-ndjson': { schema: ExportDocumentSchema },
    'text/csv': { schema: Type.String({ description: '`conversation_id, status, created_at, updated_at`, then one column per field key of the chatbot\'s `collect`' }) },
  },
};

const BULK_DESCRIPTION =
  'Your conversations (your own, your visitors\', your API keys\' end users\'), each as `{conversation, messages, data}`, ' +
  'oldest first (by chatbot, then creation time), read in batches of ' +
  `${EXPORT_BATCH_SIZE} so any number streams in constant memory. \`from\` and \`to\` are UTC days, both included, on the creation time. ` +
  '`format=csv` needs `chatbot_id`: its columns are that chatbot\'s `collect` field keys (lists as JSON); cells that a spreadsheet ' +
  'would read as a formula are prefixed with `\'`, numbers are written as numbers. A failure midway cuts the response. ' +
  `An account reads at most ${MAX_EXPORTS_PER_ACCOUNT} exports from one server at once: 429 past that.`;

const ONE_DESCRIPTION =
  `A conversation whose messages hold more than ${EXPORT_BATCH_BYTES / 1024 / 1024} MiB of text is streamed a page of messages at a time; ` +
  'such a response that ends without its whole body (the connection cut, or messages deleted meanwhile) is a failed export, never a shorter one. ' +
  `Those streamed exports count towards the ${MAX_EXPORTS_PER_ACCOUNT} an account reads from one server at once: 429 past that; ` +
  `so does a document that passes ${EXPORT_BATCH_BYTES / 1024 / 1024} MiB as written (a control character takes six bytes in JSON).`;

/**
 * Cuts `body` once its client has read nothing for `ms` while bytes wait for it (the pipe into the
 * response paused on a full socket and no drain since): a paused download or a suspended reader,
 * still connected, held its batch and one of its account's export places for as long as the
 * connection lived. Cut, the client sees an unfinished response, as with any failed export.
 */
function cutWhenUnread(body: Readable, raw: ServerResponse, ms: number): void {
  let stalled: NodeJS.Timeout | null = null;
  const clear = () => {
    if (stalled) clearTimeout(stalled);
    stalled = null;
  };
  body.on('pause', () => {
    if (stalled) return;
    const timer = setTimeout(() => {
      // After the I/O already waiting: an event loop held past `ms` may have a drain to tell first.
      setImmediate(() => {
        if (stalled === timer) body.destroy(new Error(`the client read nothing of the export for ${ms} ms`));
      });
    }, ms);
    timer.unref();
    stalled = timer;
  });
  raw.on('drain', clear);
  body.once('close', () => {
    clear();
    raw.removeListener('drain', clear);
  });
}

/**
 * Export bodies as they stream: each holds one of its account's places (export-slots.ts) until it
 * ends, and shutdown waits on one no longer than running replies get (then it is cut: the client
 * sees it unfinished); one its client stops reading is cut after SSE_WRITE_TIMEOUT_MS.
 */
function exportStreams(app: App, services: Services) {
  const running = new Set<Readable>();
  const slots = createExportSlots();
  app.addHook('preClose', async () => {
    if (running.size === 0) return;
    setTimeout(() => {
      for (const body of running) body.destroy(new Error('the server is shutting down'));
    }, services.config.shutdownGraceMs).unref();
  });
  return {
    /** One of the account's places (429 when they are all taken); returns its release. */
    take: (ownerId: string) => slots.take(ownerId),
    /** Sends `chunks` as the client reads them (pipe's backpressure); `release` once the body has ended, read or not. */
    send(reply: FastifyReply, chunks: AsyncGenerator<Buffer>, release: () => void, headers: Record<string, string>) {
      const body = Readable.from(chunks, { objectMode: false });
      running.add(body);
      const done = finished(body).finally(() => {
        running.delete(body);
        release();
      });
      services.jobs.track('export', done.catch(() => {}));
      cutWhenUnread(body, reply.raw, services.config.sseWriteTimeoutMs);
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      // The stream is the body (the schema documents what it carries), not a value to serialise.
      return reply.header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(body as never);
    },
    /**
     * A HEAD: the GET's headers, its export closed unread and no place taken. (Fastify's HEAD of a
     * GET would read the whole export and throw it away, holding a place all the while.) The body
     * is an empty stream, not nothing: nothing would be told as `content-length: 0`, an empty export.
     */
    async headOnly(reply: FastifyReply, chunks: AsyncGenerator<Buffer>, headers: Record<string, string>) {
      await chunks.return(undefined);
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      return reply.header('cache-control', 'no-store').send(Readable.from([]) as never);
    },
  };
}

const bulkHeaders = (result: BulkExport) => ({
  'content-type': result.contentType,
  'content-disposition': `attachment; filename="${result.filename}"`,
});

/** Registers the export routes over the app's services (the database for the exports' own repository). */
export function registerExportRoutes(app: App, services: Services): void {
  const exportsService: ExportsService = createExportsService({
    exports: createExportsRepo(scopedAccess(createScoped(services.database.app))),
    conversations: services.conversations,
  });
  const streams = exportStreams(app, services);

  app.get(
    '/v1/conversations/:id/export',
    {
      onRequest: services.authenticateKeys,
      preHandler: bindEndUser,
      schema: {
        tags,
        security,
        summary: 'One conversation as a document: the conversation, every message (with feedback) and the collected data',
        description: ONE_DESCRIPTION,
        params: IdParams,
        querystring: EndUserQuery,
        response: { 200: ExportDocumentSchema, ...problems(401, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const result = await exportsService.one(caller, request.params.id);
      // The database wrote the document's JSON text (export-sql.ts): it is sent as it is.
      if ('whole' in result) return reply.type(CONTENT_TYPES.json).send(result.whole as never);
      if (request.method === 'HEAD') return streams.headOnly(reply, result.pages, { 'content-type': CONTENT_TYPES.json });
      let release: () => void;
      try {
        release = streams.take(caller.ownerId);
      } catch (error) {
        await result.pages.return(undefined);
        throw error;
      }
      return streams.send(reply, result.pages, release, { 'content-type': CONTENT_TYPES.json });
    },
  );

  app.get(
    '/v1/exports/conversations',
    {
      onRequest: services.authenticate,
      schema: { tags, security, summary: 'Every conversation of your chatbots, streamed as JSON, NDJSON or CSV', description: BULK_DESCRIPTION, querystring: BulkExportQuery, response: { 200: BulkExportAnswer, ...problems(401, 403, 404, 422, 429) } },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      if (request.method === 'HEAD') {
        const checked = await exportsService.bulk(caller, request.query);
        return streams.headOnly(reply, checked.body, bulkHeaders(checked));
      }
      const release = streams.take(caller.ownerId);
      const result = await exportsService.bulk(caller, request.query).catch((error: unknown) => {
        release();
        throw error;
      });
      return streams.send(reply, result.body, release, bulkHeaders(result));
    },
  );
}
