/**
 * The export phase's baseline: the least a server must do to stream one chatbot's completed
 * conversations as NDJSON. node:http, no auth, no row security, no transactions, no shaping: the
 * tables' owner reads `SELECT … ORDER BY created_at, id` in keyset batches of the size Parley uses,
 * each batch's messages with one `= ANY(…)` query, and writes each row as it came from the driver,
 * `{conversation, messages, data}` per line, waiting for 'drain' when the socket is full.
 *
 *   GET /health                                → 200
 *   GET /export?chatbot_id=<uuid>              → 200 application/x-ndjson
 *
 * Env: EXPORT_DATABASE_URL (PostgreSQL) or EXPORT_PGLITE_DIR (a PGlite folder no other process has
 * open), PORT (0 = any). Prints `{"url": …}` once listening; exits when stdin closes (its parent is gone).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { EXPORT_BATCH_SIZE } from '../src/features/exports/export-stream.js';
import { openOwner } from './export-seed.js';

const databaseUrl = process.env.EXPORT_DATABASE_URL;
const pgliteDir = process.env.EXPORT_PGLITE_DIR;
if (!databaseUrl && !pgliteDir) throw new Error('set EXPORT_DATABASE_URL or EXPORT_PGLITE_DIR');
const owner = await openOwner(databaseUrl ? { kind: 'postgres', url: databaseUrl } : { kind: 'pglite', dir: pgliteDir! });
const { sql } = owner;

const COLUMNS = 'id, chatbot_id, title, status, message_count, data, created_at, updated_at, created_at::text AS cursor_at';
const FIRST = `SELECT ${COLUMNS} FROM conversations WHERE chatbot_id = $1::uuid AND status = 'completed'
  ORDER BY created_at, id LIMIT ${EXPORT_BATCH_SIZE}`;
const NEXT = `SELECT ${COLUMNS} FROM conversations WHERE chatbot_id = $1::uuid AND status = 'completed'
  AND (created_at, id) > ($2::timestamptz, $3::uuid) ORDER BY created_at, id LIMIT ${EXPORT_BATCH_SIZE}`;
const MESSAGES = `SELECT id, conversation_id, role, content, status, created_at, prompt_tokens, completion_tokens, latency_ms,
  feedback_rating, feedback_comment FROM messages WHERE conversation_id = ANY($1::uuid[]) ORDER BY conversation_id, id`;

type Row = Record<string, unknown> & { id: string; cursor_at: string; data: unknown };

async function exportTo(res: http.ServerResponse, chatbotId: string): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
  let after: [string, string] | null = null;
  while (!res.destroyed) {
    const rows: Row[] = after ? await sql.query<Row>(NEXT, [chatbotId, ...after]) : await sql.query<Row>(FIRST, [chatbotId]);
    if (rows.length === 0) break;
    const messages = await sql.query<{ conversation_id: string }>(MESSAGES, [`{${rows.map((row) => row.id).join(',')}}`]);
    const byConversation = new Map<string, unknown[]>();
    for (const message of messages) {
      const list = byConversation.get(message.conversation_id);
      if (list) list.push(message);
      else byConversation.set(message.conversation_id, [message]);
    }
    let text = '';
    for (const { data, cursor_at: _cursor, ...conversation } of rows) {
      text += `${JSON.stringify({ conversation, messages: byConversation.get(conversation.id) ?? [], data })}\n`;
    }
    if (!res.write(text)) await once(res, 'drain');
    if (rows.length < EXPORT_BATCH_SIZE) break;
    const last = rows[rows.length - 1]!;
    after = [last.cursor_at, last.id];
  }
  res.end();
}

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  const chatbotId = url.searchParams.get('chatbot_id');
  if (url.pathname !== '/export' || !chatbotId) {
    res.writeHead(404).end();
    return;
  }
  exportTo(res, chatbotId).catch((error: unknown) => {
    console.error(`export failed: ${error instanceof Error ? error.message : String(error)}`);
    res.destroy();
  });
});
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' }, () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  owner.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
