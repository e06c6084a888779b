/**
 * The soak's traffic: loops that run until stopped, each as one user of a real deployment would —
 * chat turns (answered whole and streamed), streams read to the end, sign-ins, uploads of ~1 MB
 * Chinese documents to a chatbot's knowledge, and a client that asks for a long streamed reply and
 * never reads it. Each loop waits for its answer before its next request.
 */
import { call, streamTurn, unreadStream, type Kind, type Outcome, type Tally } from './soak-client.js';
import { sleep } from './processes.js';

const PASSWORD = 'soak-password-123';
const TOKEN_RENEW_MS = 10 * 60_000; // access tokens live 15 minutes
/** A never-read stream is given this long to be dropped before the client gives up on it. */
const UNREAD_HOLD_MS = 120_000;

export interface Account {
  username: string;
  token: string;
  tokenAt: number;
  chatbotId: string;
}

export interface UnreadCounts {
  opened: number;
  /** The reply was stored `interrupted` while the client still held its unread socket. */
  dropped: number;
  dropSeconds: number[];
  /** Still open when the load ended (its socket destroyed then). */
  cutByEnd: number;
  /** Stored otherwise (`complete`, `failed`), or never within UNREAD_HOLD_MS, or refused (status line). */
  other: string[];
}

export interface TrafficOptions {
  url: string;
  runId: string;
  longPrompt: string;
  tally: Tally;
}

interface Loop {
  stopped: () => boolean;
  /** Waits `ms`, or less when the load stops meanwhile. */
  pause: (ms: number) => Promise<void>;
  options: TrafficOptions;
}

async function counted(loop: Loop, kind: Kind, request: () => Promise<Outcome>): Promise<Outcome> {
  loop.options.tally.begin(kind);
  const outcome = await request();
  loop.options.tally.end(kind);
  loop.options.tally.add(kind, outcome);
  return outcome;
}

/** Registers an account and creates its first conversation (which creates its default chatbot). Before the load: retried. */
export async function createAccount(url: string, username: string): Promise<Account> {
  for (let attempt = 1; ; attempt++) {
    const registered = await call('POST', `${url}/v1/auth/register`, { username, password: PASSWORD });
    const token = (registered.body as { access_token?: string } | null)?.access_token;
    const conversation = token ? await call('POST', `${url}/v1/conversations`, {}, token) : null;
    const chatbotId = (conversation?.body as { chatbot_id?: string } | null)?.chatbot_id;
    if (token && chatbotId) return { username, token, tokenAt: Date.now(), chatbotId };
    if (attempt >= 5) throw new Error(`cannot set up ${username}: ${registered.status} ${JSON.stringify(conversation?.body ?? registered.body)}`);
    await sleep(1000);
  }
}

/** The account's token, signed in again when it nears its expiry (not counted: it is upkeep). */
async function tokenOf(url: string, account: Account): Promise<string> {
  if (Date.now() - account.tokenAt < TOKEN_RENEW_MS) return account.token;
  const answer = await call('POST', `${url}/v1/auth/login`, { username: account.username, password: PASSWORD });
  const token = (answer.body as { access_token?: string } | null)?.access_token;
  if (token) Object.assign(account, { token, tokenAt: Date.now() });
  return account.token;
}

/** A new conversation, tried until one is created or the load stops. */
async function newConversation(loop: Loop, account: Account): Promise<string | null> {
  while (!loop.stopped()) {
    const answer = await counted(loop, 'conversation', async () => call('POST', `${loop.options.url}/v1/conversations`, {}, await tokenOf(loop.options.url, account)));
    const id = (answer.body as { id?: string } | null)?.id;
    if (answer.status === 201 && id) return id;
    await loop.pause(500);
  }
  return null;
}

const MESSAGE = 'Could you summarise what we discussed so far and suggest the next step? Keep it short, please.';

/** Turns in one conversation after another (20 turns each, or a new one after a 409); `streamEvery` 1: all streamed, 2: every other. */
export async function turnLoop(loop: Loop, account: Account, streamEvery: number, pauseMs: number): Promise<void> {
  let conversation = await newConversation(loop, account);
  for (let n = 1; conversation && !loop.stopped(); n++) {
    const token = await tokenOf(loop.options.url, account);
    const url = `${loop.options.url}/v1/conversations/${conversation}/messages`;
    const content = `${n}. ${MESSAGE}`;
    const streamed = n % streamEvery === 0;
    const outcome = streamed ? await counted(loop, 'stream', () => streamTurn(url, token, content)) : await counted(loop, 'turn', () => call('POST', url, { content }, token));
    if (outcome.status === 409 || n % 20 === 0) conversation = await newConversation(loop, account);
    await loop.pause(pauseMs);
  }
}

export async function loginLoop(loop: Loop, accounts: Account[], pauseMs: number): Promise<void> {
  for (let n = 0; !loop.stopped(); n++) {
    const account = accounts[n % accounts.length]!;
    await counted(loop, 'login', () => call('POST', `${loop.options.url}/v1/auth/login`, { username: account.username, password: PASSWORD }));
    await loop.pause(pauseMs);
  }
}

/** About 1 MB of Chinese text in UTF-8 (≈ 330,000 characters in paragraphs), different for each `n`. */
export function chineseDocument(n: number): string {
  const sentences = [
    '本文档介绍了系统的设计原则和使用方法。',
    '用户可以通过接口上传知识文档，聊天机器人会在回答问题时参考这些内容。',
    '为了保证服务的稳定性，每个请求都有超时限制，并且数据库连接断开后会自动重新连接。',
    '在高并发的情况下，服务器需要合理地分配资源，避免某个用户占用全部计算能力。',
    '如果客户端长时间不读取数据，服务器会关闭该连接并保存已经生成的回复。',
    '第',
  ];
  const paragraphs: string[] = [];
  let chars = 0;
  for (let p = 0; chars < 330_000; p++) {
    let paragraph = `${sentences[5]}${n}篇，第${p}段：`;
    for (let s = 0; s < 12; s++) paragraph += sentences[(p + s + n) % 5];
    paragraphs.push(paragraph);
    chars += paragraph.length + 2;
  }
  return paragraphs.join('\n\n');
}

/** Uploads one after another, the accounts in turn (each stays well under its uploads-per-minute limit). */
export async function uploadLoop(loop: Loop, accounts: Account[], pauseMs: number): Promise<void> {
  for (let n = 0; !loop.stopped(); n++) {
    const account = accounts[n % accounts.length]!;
    const token = await tokenOf(loop.options.url, account);
    const body = { title: `文档 ${loop.options.runId} ${n}`, content: chineseDocument(n) };
    await counted(loop, 'upload', () => call('POST', `${loop.options.url}/v1/chatbots/${account.chatbotId}/knowledge`, body, token));
    await loop.pause(pauseMs);
  }
}

/** The stored status of a conversation's reply, or null while there is none. */
async function replyStatus(url: string, token: string, conversationId: string): Promise<string | null> {
  const answer = await call('GET', `${url}/v1/conversations/${conversationId}/messages`, undefined, token);
  const data = (answer.body as { data?: Array<{ role: string; status: string }> } | null)?.data ?? [];
  return data.find((m) => m.role === 'assistant')?.status ?? null;
}

/** A client asking for a long streamed reply and never reading it, in a new conversation each time. */
export async function unreadLoop(loop: Loop, account: Account, counts: UnreadCounts, pauseMs: number): Promise<void> {
  while (!loop.stopped()) {
    const conversation = await newConversation(loop, account);
    if (!conversation) return;
    const token = await tokenOf(loop.options.url, account);
    const opened = Date.now();
    const { socket, head } = unreadStream(loop.options.url, token, conversation, loop.options.longPrompt);
    counts.opened++;
    loop.options.tally.begin('unread');
    let status: string | null = null;
    while (status === null && !loop.stopped() && Date.now() - opened < UNREAD_HOLD_MS) {
      await loop.pause(2000);
      status = await replyStatus(loop.options.url, token, conversation);
    }
    const line = head();
    socket.destroy();
    loop.options.tally.end('unread');
    const code = Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? 0);
    loop.options.tally.add('unread', code ? { status: code, body: line, end: code === 200 ? 'message.end' : undefined } : { status: 0, body: line, error: 'no status line' });
    if (status === 'interrupted') {
      counts.dropped++;
      counts.dropSeconds.push((Date.now() - opened) / 1000);
    } else if (status === null && loop.stopped()) counts.cutByEnd++;
    else counts.other.push(`${status ?? 'no reply stored'} (${line || 'no status line read'})`);
    await loop.pause(pauseMs);
  }
}

export interface TrafficPlan {
  turnLoops: number;
  streamLoops: number;
  turnPauseMs: number;
  loginPauseMs: number;
  uploadPauseMs: number;
  unreadPauseMs: number;
}

export interface Accounts {
  turners: Account[];
  streamers: Account[];
  signers: Account[];
  uploaders: Account[];
  reader: Account;
}

/** Every account the loops use, created before the load (and before any connection is cut). */
export async function createAccounts(url: string, runId: string, plan: TrafficPlan): Promise<Accounts> {
  const make = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => createAccount(url, `${runId}-${prefix}${i}`)));
  const [turners, streamers, signers, uploaders, readers] = await Promise.all([make('t', plan.turnLoops), make('s', plan.streamLoops), make('l', 3), make('u', 3), make('r', 1)]);
  return { turners, streamers, signers, uploaders, reader: readers[0]! };
}

/**
 * One request of each kind before the load (not counted), so that what the server starts on first
 * use (the chunking worker, say) is already part of the RSS the run starts from. Throws on a failure.
 */
export async function warmUp(url: string, accounts: Accounts): Promise<void> {
  const account = accounts.turners[0] ?? accounts.streamers[0]!;
  const conversation = (await call('POST', `${url}/v1/conversations`, {}, account.token)).body as { id: string };
  const messages = `${url}/v1/conversations/${conversation.id}/messages`;
  const uploader = accounts.uploaders[0]!;
  const answers = [
    await call('POST', messages, { content: MESSAGE }, account.token),
    await streamTurn(messages, account.token, MESSAGE),
    await call('POST', `${url}/v1/auth/login`, { username: accounts.signers[0]!.username, password: PASSWORD }),
    await call('POST', `${url}/v1/chatbots/${uploader.chatbotId}/knowledge`, { title: '文档 0', content: chineseDocument(0) }, uploader.token),
  ];
  const failed = answers.find((a) => a.status < 200 || a.status >= 300 || (a.end !== undefined && a.end !== 'message.end'));
  if (failed) throw new Error(`warm-up request failed: ${failed.status || failed.error} ${JSON.stringify(failed.body)}`);
}

/** Starts every loop; `stop()` ends them and waits for their last request. */
export function startTraffic(options: TrafficOptions, plan: TrafficPlan, accounts: Accounts): { stop(): Promise<void>; unread: UnreadCounts } {
  let stopped = false;
  let wake = () => {};
  const stopping = new Promise<void>((resolve) => (wake = resolve));
  const loop: Loop = { stopped: () => stopped, pause: (ms) => Promise.race([sleep(ms), stopping]), options };
  const unread: UnreadCounts = { opened: 0, dropped: 0, dropSeconds: [], cutByEnd: 0, other: [] };
  const running = [
    ...accounts.turners.map((a) => turnLoop(loop, a, 2, plan.turnPauseMs)),
    ...accounts.streamers.map((a) => turnLoop(loop, a, 1, plan.turnPauseMs)),
    loginLoop(loop, accounts.signers, plan.loginPauseMs),
    uploadLoop(loop, accounts.uploaders, plan.uploadPauseMs),
    unreadLoop(loop, accounts.reader, unread, plan.unreadPauseMs),
  ];
  return {
    unread,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(running);
    },
  };
}
