/**
 * Phase 5: many concurrent open streams. Each stream is a raw node:http request on its own socket
 * (no agent, no keep-alive) that counts as open once `event: message.start` arrived. The fake LLM
 * sends one word every 20 s, so every upstream call stays open for minutes, until we leave.
 */
import http from 'node:http';
import type net from 'node:net';
import { pool, type ChatApi } from './client.js';
import { forceGc, rssBytes, sleep, type Child, type FakeLlmProcess } from './processes.js';

export interface StreamTarget {
  api: ChatApi;
  token: string;
  conversation: string;
}

const OPEN_WINDOW = 256; // streams being opened at once; far below the listen backlogs, so no SYN is dropped
// The fake LLM's reply echoes this (~35 words, one chunk each), so a stream lasts ~35 × the chunk delay.
const STREAM_MESSAGE =
  'Please tell me a long story about a lighthouse keeper, the sea, the winter storms, the ships that passed in the night and the letters she wrote every evening to a friend far away.';

/** Creates `count` conversations on a server, `perUser` per account, 64 requests at a time. */
export async function createTargets(api: ChatApi, count: number, runId: string, label: string, perUser = 500): Promise<StreamTarget[]> {
  const tokens = await pool(Math.ceil(count / perUser), 4, (i) => api.register(`${runId}-${label}${i}`));
  const targets = await pool(count, 64, async (i) => {
    const token = tokens[Math.floor(i / perUser)]!;
    return { api, token, conversation: await api.createConversation(token) };
  });
  // Drop the keep-alive sockets used to create them: they would count in the server's descriptors and memory.
  api.agent.destroy();
  return targets;
}

/** Streams whose response ended (or failed) after `message.start`, while they should have stayed open. */
export const endedEarly = { count: 0, errors: new Map<string, number>() };

/** Opens one stream; resolves with its socket once `message.start` arrived. A 409 (previous turn still closing) is retried. */
function openStream(target: StreamTarget, attempt = 0): Promise<net.Socket> {
  const body = JSON.stringify({ content: STREAM_MESSAGE, stream: true });
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'text/event-stream' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(target.api.messagesUrl(target.conversation), { method: 'POST', headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no message.start within 60 s'));
    }, 60_000);
    req.on('response', (res) => {
      if (res.statusCode === 409 && attempt < 20) {
        clearTimeout(timer);
        res.resume();
        setTimeout(() => openStream(target, attempt + 1).then(resolve, reject), 200);
        return;
      }
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        res.resume();
        reject(new Error(`stream answered ${res.statusCode}`));
        return;
      }
      let seen = '';
      let started = false;
      res.on('data', (chunk: Buffer) => {
        if (started) {
          // Only an error event matters from here on (kept short: thousands of streams).
          const error = /event: error\ndata: \{"code":"([^"]+)"/.exec(chunk.toString('utf8'));
          if (error) endedEarly.errors.set(error[1]!, (endedEarly.errors.get(error[1]!) ?? 0) + 1);
          return;
        }
        seen += chunk.toString('utf8');
        if (seen.includes('event: message.start')) {
          started = true;
          seen = '';
          clearTimeout(timer);
          resolve(req.socket!);
        }
      });
      res.on('error', () => {}); // our own destroy() at the end
      // The server ending a stream we did not close means it did not stay open.
      res.on('end', () => {
        if (started) endedEarly.count++;
      });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}

/** Opens every target's stream, at most OPEN_WINDOW being opened at once; all stay open. */
export async function openStreams(targets: StreamTarget[], log: (line: string) => void): Promise<{ sockets: net.Socket[]; seconds: number }> {
  const started = performance.now();
  let opened = 0;
  const progress = setInterval(() => log(`  … ${opened}/${targets.length} streams open`), 3000);
  try {
    const sockets = await pool(targets.length, OPEN_WINDOW, async (i) => {
      const socket = await openStream(targets[i]!);
      opened++;
      return socket;
    });
    return { sockets, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearInterval(progress);
  }
}

export interface CloseResult {
  /** ms from destroying the first client socket until the fake LLM had no open call left (NaN: not within 15 s). */
  allClosedMs: number;
  /** Upstream calls still open 1 s after the clients left. */
  openAt1s: number;
  openBefore: number;
  /** Still open when we stopped watching (15 s). */
  openAtEnd: number;
  /** ms the bench itself took to destroy every client socket (part of allClosedMs). */
  destroyMs: number;
  /** ms until a poll of the fake learned that none was open (≥ allClosedMs). */
  polledMs: number;
}

/**
 * Destroys every client socket at once, then watches the fake LLM's open calls drop. The time is
 * the fake's own record of its last close (same clock: epoch ms from a monotonic source), not when
 * a poll learned of it: the fake answers polls late while it is busy closing, and that delay is
 * neither Parley's nor the baseline's.
 */
export async function closeAll(sockets: net.Socket[], fakes: FakeLlmProcess[]): Promise<CloseResult> {
  const statsNow = () => Promise.all(fakes.map((f) => f.stats()));
  const openBefore = (await statsNow()).reduce((sum, s) => sum + s.open, 0);
  const started = performance.now();
  const startedAt = performance.timeOrigin + started;
  for (const socket of sockets) socket.destroy();
  const destroyMs = performance.now() - started;
  let openAt1s = NaN;
  let lastOpen = openBefore;
  for (;;) {
    const stats = await statsNow();
    const open = stats.reduce((sum, s) => sum + s.open, 0);
    const elapsed = performance.now() - started;
    if (open === 0) {
      const allClosedMs = Math.max(...stats.map((s) => (s.lastClosedAt ?? startedAt) - startedAt));
      // Past 1 s with no poll answered after it but this one: the last count seen is the bound.
      const at1s = allClosedMs <= 1000 ? 0 : Number.isNaN(openAt1s) ? lastOpen : openAt1s;
      return { allClosedMs, openAt1s: at1s, openBefore, openAtEnd: 0, destroyMs, polledMs: elapsed };
    }
    lastOpen = open;
    // The first poll answered after 1 s: calls it still counts were open then (it answers late, not early).
    if (elapsed >= 1000 && Number.isNaN(openAt1s)) openAt1s = open;
    if (elapsed > 15_000) return { allClosedMs: NaN, openAt1s, openBefore, openAtEnd: open, destroyMs, polledMs: elapsed };
    await sleep(5);
  }
}

/** Resident memory after two full garbage collections (when the server allows it) and a pause. */
export async function settledRss(server: Child, pauseMs = 1000): Promise<{ rss: number; collected: boolean }> {
  const collected = (await forceGc(server)) && (await forceGc(server));
  await sleep(pauseMs);
  return { rss: rssBytes(server.pid), collected };
}
