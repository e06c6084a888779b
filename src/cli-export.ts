// `parley export --chatbot <id> …`: a chatbot's conversations as JSON, NDJSON or CSV, to a file
// or standard output, read straight from the database (as `parley users` does) through the same
// writer as GET /v1/exports/conversations. Progress goes to standard error. With the embedded
// database, stop the server first (one process per PGlite folder).
import { once } from 'node:events';
import { createWriteStream, renameSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/config.js';
import { readEnvironment } from './config/env.js';
import { connectDatabase } from './db/connect.js';
import { requireEmbeddedDatabase } from './cli-database.js';
import { holdForCommand } from './features/backup/control-socket.js';
import type { SqlRunner } from './db/client.js';
import { AppError } from './errors/app-error.js';
import { onStopSignal, signalStatus } from './lib/stop-signals.js';
import { isUuid } from './lib/ids.js';
import { collectKeys } from './features/exports/csv.js';
import { DEFAULT_EXPORT_SETTINGS, exportText, type ExportPlan, type ExportSettings } from './features/exports/export-stream.js';
import { createExportsRepo, ownerAccess } from './features/exports/exports.repo.js';
import { EXPORT_FORMATS, type ExportFormat } from './features/exports/exports.schemas.js';
import { createdRange } from './features/exports/exports.service.js';
import { outputTarget } from './lib/output-target.js';
import { partialName, removeStalePartials } from './lib/partial-file.js';
import { USAGE } from './cli-usage.js';

export const EXPORT_USAGE = USAGE.export;

export interface ExportIo {
  /** Where the export goes without --output. */
  stdout: NodeJS.WritableStream;
  /** Progress and the closing line. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  settings?: ExportSettings;
}

export interface ExportSummary {
  written: number;
  total: number;
  format: ExportFormat;
  output: string | null;
}

const usage = (why: string) => new Error(`${why}\nusage: ${EXPORT_USAGE}`);

/** A validation error of the shared checks, as a command-line message. */
function asCliError(error: unknown): unknown {
  if (error instanceof AppError && error.code === 'validation_failed') {
    const field = error.errors?.[0];
    return usage(field ? `--${field.path.replace(/^.*\//, '')} ${field.message}` : error.message);
  }
  return error;
}

/** Writes `text`, waiting while the destination's buffer is full (a slow disk or a paused pipe). */
async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** "conversations written / total" on standard error: redrawn in place on a terminal, a line now and then otherwise. */
function progressLine(stderr: ExportIo['stderr'], total: number) {
  const tty = Boolean(stderr.isTTY);
  let shown = -1;
  let lastAt = 0;
  const draw = (written: number) => {
    shown = written;
    lastAt = Date.now();
    const share = total === 0 ? 1 : Math.min(1, written / total);
    const filled = Math.round(share * 20);
    const text = `exporting [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${written}/${total} conversations (${Math.floor(share * 100)}%)`;
    stderr.write(tty ? `\r${text}` : `${text}\n`);
  };
  return {
    update(written: number) {
      if (written !== shown && Date.now() - lastAt >= (tty ? 100 : 1_000)) draw(written);
    },
    done(written: number) {
      if (written !== shown) draw(written);
      if (tty) stderr.write('\n');
    },
  };
}

class ExportStopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
  }
}

/**
 * Ctrl-C, a cron job's timeout or a closed terminal while --output is written: Node's default
 * ended the process and its partial file stayed, and a dated export's name never meets it again.
 * The signal now stops the export at its next batch, which removes the file, closes the database
 * and frees DATA_DIR as a failure does; the same signal again ends the process at once.
 * Returns the function that puts Node's default back.
 */
function stopOnSignals(onStop: (stopped: ExportStopped) => void): () => void {
  return onStopSignal((signal) => onStop(new ExportStopped(signal)));
}

interface ExportOptions {
  chatbotId: string;
  status?: 'active' | 'completed';
  format: ExportFormat;
  range: ReturnType<typeof createdRange>;
  output: string | null;
}

/** The command line, checked: a usage error names the option and shows the usage. */
function parseOptions(argv: string[]): ExportOptions {
  let values: { chatbot?: string; status?: string; from?: string; to?: string; format?: string; output?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { chatbot: { type: 'string' }, status: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, output: { type: 'string', short: 'o' } },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw usage((error as Error).message);
  }
  if (!values.chatbot) throw usage('--chatbot is required');
  if (!isUuid(values.chatbot)) throw usage('--chatbot must be a chatbot id');
  let status: 'active' | 'completed' | undefined;
  if (values.status !== undefined) {
    if (values.status !== 'active' && values.status !== 'completed') throw usage('--status must be active or completed');
    status = values.status;
  }
  const format = (values.format ?? 'json') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) throw usage('--format must be json, ndjson or csv');
  let range: ReturnType<typeof createdRange>;
  try {
    range = createdRange(values.from, values.to);
  } catch (error) {
    throw asCliError(error);
  }
  // A device or folder at --output was replaced by the export's rename, /dev/null too when run as root.
  const output = values.output === undefined ? null : outputTarget(values.output, 'export');
  return { chatbotId: values.chatbot, status, format, range, output };
}

/**
 * Runs the export over `sql` (the connecting role, in the chatbot owner's row-security scope).
 * With --output the file appears only once complete: it is written beside it as `<file>.<pid>.partial`
 * and renamed at the end, and a failure removes it. A failure throws (the CLI exits non-zero).
 */
export async function runExportCommand(argv: string[], sql: SqlRunner, io: ExportIo): Promise<ExportSummary> {
  const { chatbotId, status, format, range, output } = parseOptions(argv);
  const repo = createExportsRepo(ownerAccess(sql));
  const chatbot = await repo.findChatbot(chatbotId.toLowerCase());
  if (!chatbot) throw new Error(`no chatbot with id ${chatbotId}`);
  const filter = { ...range, ...(status ? { status } : {}) };
  const plan: ExportPlan = { ownerId: chatbot.ownerId, chatbots: [chatbot], filter, format, csvKeys: format === 'csv' ? collectKeys(chatbot.collect) : [] };
  const total = await repo.count(chatbot.ownerId, { ...filter, chatbotId: chatbot.id });
  const progress = progressLine(io.stderr, total);

  const partial = output === null ? null : partialName(output);
  if (output !== null) await removeStalePartials(output);
  // End users' conversations: readable by the one who exported them, as a backup file is.
  const file = partial === null ? null : createWriteStream(partial, { mode: 0o600 });
  const out: NodeJS.WritableStream = file ?? io.stdout;
  let written = 0;
  // A destination that fails (a full disk, a closed pipe) fails the export, never the process.
  let failed: Error | null = null;
  const onError = (error: Error) => (failed ??= error);
  out.on('error', onError);
  const keepDefaults = file ? stopOnSignals(onError) : () => {};
  try {
    if (file) await once(file, 'open');
    for await (const text of exportText(repo, plan, { settings: io.settings ?? DEFAULT_EXPORT_SETTINGS, onProgress: (count) => progress.update((written = count)) })) {
      if (failed) throw failed;
      await write(out, text);
    }
    if (failed) throw failed;
    if (file) {
      file.end();
      await once(file, 'close');
      if (failed) throw failed;
      // In the same turn of the event loop as the rename: a stop signal cannot come between them.
      renameSync(partial!, output!);
      keepDefaults();
    }
  } catch (error) {
    if (file) {
      file.destroy();
      await unlink(partial!).catch(() => {});
    }
    io.stderr.write(io.stderr.isTTY ? '\n' : '');
    if (error instanceof ExportStopped) throw error;
    throw new Error(`export failed after ${written} of ${total} conversations: ${(error as Error).message}`, { cause: error });
  } finally {
    keepDefaults();
    out.removeListener('error', onError);
  }
  progress.done(written);
  io.stderr.write(`exported ${written} conversations as ${format} to ${output ?? 'standard output'}\n`);
  return { written, total, format, output };
}

/** `parley export …` as the CLI runs it: configuration from the environment, the database opened and closed here. */
export async function exportCommand(argv: string[]): Promise<void> {
  // A mistyped option is said before the database is opened (or created, in a new DATA_DIR).
  parseOptions(argv);
  try {
    await exportHoldingDataDir(argv);
  } catch (error) {
    if (!(error instanceof ExportStopped)) throw error;
    // Said once the database is closed and DATA_DIR free, with the signal's status, as a shell expects.
    process.stderr.write(`export: stopped by ${error.signal} before the export was complete; nothing was kept\n`);
    process.exit(signalStatus(error.signal));
  }
}

async function exportHoldingDataDir(argv: string[]): Promise<void> {
  const config = loadConfig(readEnvironment());
  requireEmbeddedDatabase(config);
  const hold = await holdForCommand(config, 'export');
  try {
    const database = await connectDatabase(config);
    try {
      await runExportCommand(argv, database.sql, { stdout: process.stdout, stderr: process.stderr });
    } finally {
      await database.close();
    }
  } finally {
    await hold?.release();
  }
}
