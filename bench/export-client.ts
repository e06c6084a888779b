/**
 * Reads one bulk export to its end over a keep-alive connection, as a client saving the file
 * would, while sampling the server process's RSS: records counted as they arrive (NDJSON lines,
 * CSV records outside quotes, JSON array items), time to first byte, total time, bytes, and the
 * server's CPU time. Nothing is parsed but the first and last record, so the reader stays cheap
 * next to the server it measures on the same cores.
 */
import http from 'node:http';
import { cpuTimeMs, rssBytes } from './processes.js';

export type ExportKind = 'ndjson' | 'csv' | 'json';

export interface ExportRead {
  status: number;
  /** Request sent → first byte of the body. */
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  /** Conversations received: lines (NDJSON), records after the header (CSV), array items (JSON). */
  records: number;
  /** Server RSS just before the request, its highest sample during it, and right after the end. */
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  /** Filled by the caller: RSS once the export is over and a full garbage collection ran (what the export kept). */
  rssAfterGc: number;
  rssSamples: number;
  serverCpuMs: number;
  /** ms from the request at which each tenth of the expected records had arrived (a slowdown shows as growing gaps). */
  tenths: number[];
  /** What is wrong with the body's shape (first or last record), or null. */
  problem: string | null;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;
const KEEP = 64 * 1024;

/** Counts record ends in a stream of chunks; for CSV, only newlines outside quoted cells. */
function newlineCounter(kind: ExportKind): (chunk: Buffer) => number {
  if (kind !== 'csv') {
    return (chunk) => {
      let count = 0;
      for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) count++;
      return count;
    };
  }
  let quoted = false;
  return (chunk) => {
    let count = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) quoted = !quoted;
      else if (byte === NEWLINE && !quoted) count++;
    }
    return count;
  };
}

/** Records from record ends: CSV has a header line, a JSON array an opening and a closing line. */
function recordsOf(kind: ExportKind, newlines: number): number {
  if (kind === 'csv') return Math.max(0, newlines - 1);
  if (kind === 'json') return Math.max(0, newlines - 2);
  return newlines;
}

/** The first and last record must read as what the format promises. */
function checkShape(kind: ExportKind, head: string, tail: string): string | null {
  try {
    if (kind === 'csv') {
      if (!head.startsWith('\uFEFFconversation_id,status,created_at,updated_at,')) return `CSV header: ${JSON.stringify(head.slice(0, 80))}`;
      return tail.endsWith('\r\n') ? null : 'CSV does not end with CRLF';
    }
    const lines = (text: string) => text.split('\n').filter((line) => line.length > 0);
    const first = kind === 'json' ? lines(head)[1]!.replace(/,$/, '') : lines(head)[0]!;
    const last = kind === 'json' ? lines(tail).at(-2)! : lines(tail).at(-1)!;
    if (kind === 'json' && (!head.startsWith('[\n') || !tail.endsWith('\n]\n'))) return 'JSON array not opened or closed';
    for (const line of [first, last]) {
      const document = JSON.parse(line) as { conversation?: { id?: unknown }; messages?: unknown; data?: unknown };
      if (typeof document.conversation?.id !== 'string' || !Array.isArray(document.messages) || typeof document.data !== 'object') {
        return `a record without conversation, messages and data: ${line.slice(0, 120)}`;
      }
    }
    return null;
  } catch (error) {
    return `a record that does not parse: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export interface ReadOptions {
  url: string;
  token?: string;
  agent: http.Agent;
  /** The server process whose RSS and CPU time are read. */
  pid: number;
  kind: ExportKind;
  expected: number;
  sampleMs?: number;
  /** Hears progress at each quarter of `expected`. */
  say?: (line: string) => void;
}

export function readExport(options: ReadOptions): Promise<ExportRead> {
  const { pid, kind, expected } = options;
  const count = newlineCounter(kind);
  const result: ExportRead = { status: 0, ttfbMs: NaN, totalMs: NaN, bytes: 0, records: 0, rssBefore: rssBytes(pid), rssPeak: 0, rssAfter: NaN, rssAfterGc: NaN, rssSamples: 0, serverCpuMs: 0, tenths: [], problem: null };
  result.rssPeak = result.rssBefore;
  const sample = () => {
    const rss = rssBytes(pid);
    result.rssSamples++;
    if (rss > result.rssPeak) result.rssPeak = rss;
    return rss;
  };
  const sampler = setInterval(sample, options.sampleMs ?? 50);
  const cpuBefore = cpuTimeMs(pid);
  let head = '';
  let tail: Buffer = Buffer.alloc(0);
  let newlines = 0;
  let quarter = 1;
  const started = performance.now();
  return new Promise<ExportRead>((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const req = http.get(options.url, { agent: options.agent, headers }, (res) => {
      result.status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        const now = performance.now() - started;
        if (result.bytes === 0) result.ttfbMs = now;
        result.bytes += chunk.length;
        if (head.length < KEEP) head += chunk.toString('utf8', 0, Math.min(chunk.length, KEEP));
        tail = chunk.length >= KEEP ? chunk.subarray(chunk.length - KEEP) : Buffer.concat([tail, chunk]).subarray(-KEEP);
        newlines += count(chunk);
        const records = recordsOf(kind, newlines);
        while (result.tenths.length < 10 && records >= (expected * (result.tenths.length + 1)) / 10) result.tenths.push(now);
        if (records >= (expected * quarter) / 4 && quarter < 4) {
          options.say?.(`${kind}: ${records.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} (${(now / 1000).toFixed(1)} s, server RSS +${((sample() - result.rssBefore) / 1e6).toFixed(1)} MB)`);
          quarter++;
        }
      });
      res.on('end', () => {
        result.totalMs = performance.now() - started;
        clearInterval(sampler);
        result.rssAfter = sample();
        result.serverCpuMs = cpuTimeMs(pid) - cpuBefore;
        result.records = recordsOf(kind, newlines);
        // A cut response ends without its closing text; the shape check then fails too.
        result.problem = result.status === 200 ? checkShape(kind, head, tail.toString('utf8')) : `status ${result.status}: ${head.slice(0, 200)}`;
        resolve(result);
      });
      res.on('error', (error) => {
        clearInterval(sampler);
        reject(error);
      });
    });
    req.on('error', (error) => {
      clearInterval(sampler);
      reject(error);
    });
  });
}
