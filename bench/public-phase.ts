/**
 * Phase 9: a public chatbot's visitors against signed-in users, on the same Parley in the same run.
 * Phase 1's load (32 connections, non-streamed turns back to back) either way: signed-in, each
 * connection its own user and conversation; public, each connection its own visitor (visitor
 * token, page Origin) of one public chatbot that lists allowed origins and has a monthly token
 * budget, so a visitor's turn pays for everything the public path adds: the visitor token, the
 * origin check, the three public limits and the budget read. Rounds alternate to spread drift.
 */
import { pool, postJson, type ChatApi } from './client.js';
import { measureTurns, throughput, type ThroughputResult, type TurnRoute } from './load.js';
import { atLeast, num, ratio, withUnit, type Section } from './report.js';

const ORIGIN = 'https://shop.example.com';
const ROUNDS = ['signed-in', 'public', 'signed-in', 'public'] as const;
const dash = '—';

interface Visit {
  conversation_id: string;
  visitor_token: string;
}

async function startVisit(url: string, chatbot: string, visitor: string, token?: string): Promise<Visit> {
  const headers: Record<string, string> = { origin: ORIGIN };
  if (token) headers.authorization = `Bearer ${token}`;
  const answer = await postJson(`${url}/v1/public/chatbots/${chatbot}/conversations`, { visitor_id: visitor }, { headers });
  if (answer.status !== 201) throw new Error(`start visit: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as Visit;
}

const visitorRoute = (visit: Visit): TurnRoute => ({
  path: `/v1/public/conversations/${visit.conversation_id}/messages`,
  headers: { authorization: `Bearer ${visit.visitor_token}`, origin: ORIGIN },
});

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function publicPhase(section: Section, say: (line: string) => void, options: { api: ChatApi; pid: number; runId: string; seconds: number }) {
  const { api, pid, runId, seconds } = options;
  const owner = await api.register(`${runId}-pub`);
  const created = await postJson(
    `${api.url}/v1/chatbots`,
    { name: 'Bench front desk', is_public: true, allowed_origins: [ORIGIN], token_budget_monthly: 1_000_000_000_000 },
    { token: owner },
  );
  if (created.status !== 201) throw new Error(`create public chatbot: ${created.status} ${JSON.stringify(created.body)}`);
  const chatbot = created.body.slug as string;

  const results: Record<(typeof ROUNDS)[number], ThroughputResult[]> = { 'signed-in': [], public: [] };
  for (const [index, kind] of ROUNDS.entries()) {
    say(`round ${index + 1}: ${kind}`);
    const load = { connections: 32, seconds, warmupSeconds: 3 };
    let result: ThroughputResult;
    if (kind === 'signed-in') {
      result = await throughput(api, pid, { ...load, runId: `${runId}-p${index}` }, say);
    } else {
      say('starting 32 visits, each visitor with a warm-up and a measured conversation');
      const visits = await pool(32, 8, async (i) => {
        const warm = await startVisit(api.url, chatbot, `${runId}-r${index}-v${i}`);
        return { warm, measured: await startVisit(api.url, chatbot, `${runId}-r${index}-v${i}`, warm.visitor_token) };
      });
      result = await measureTurns(api.url, pid, { warm: visits.map((v) => visitorRoute(v.warm)), measured: visits.map((v) => visitorRoute(v.measured)) }, load, say);
    }
    say(`${kind}: ${num(result.turnsPerSecond)} turns/s, p50 ${num(result.p50, 2)} ms, ${num(result.cpuMsPerTurn, 3)} ms CPU/turn, status ${JSON.stringify(result.statusCodes)}`);
    results[kind].push(result);
  }

  const of = (kind: keyof typeof results, f: (r: ThroughputResult) => number) => median(results[kind].map(f));
  const visitor = of('public', (r) => r.turnsPerSecond);
  const signedIn = of('signed-in', (r) => r.turnsPerSecond);
  const failures = results.public.reduce((n, r) => n + r.errors + r.non2xx + r.timeouts, 0);
  section.rows.push(
    { measure: 'Turns per second (median of 2 rounds)', parley: num(visitor), baseline: num(signedIn), ratio: ratio(visitor, signedIn), target: 'ratio ≥ 0.9', verdict: atLeast(visitor / signedIn, 0.9, '×') },
    { measure: 'Turn latency p50', parley: withUnit(of('public', (r) => r.p50), 'ms', 2), baseline: withUnit(of('signed-in', (r) => r.p50), 'ms', 2), ratio: ratio(of('public', (r) => r.p50), of('signed-in', (r) => r.p50)), target: dash, verdict: dash },
    { measure: 'Server CPU per turn', parley: withUnit(of('public', (r) => r.cpuMsPerTurn), 'ms', 3), baseline: withUnit(of('signed-in', (r) => r.cpuMsPerTurn), 'ms', 3), ratio: ratio(of('public', (r) => r.cpuMsPerTurn), of('signed-in', (r) => r.cpuMsPerTurn)), target: dash, verdict: dash },
    { measure: 'Visitor errors + non-2xx + timeouts', parley: String(failures), baseline: dash, ratio: dash, target: '0', verdict: failures === 0 ? '✅ none' : `❌ ${results.public.map((r) => JSON.stringify(r.statusCodes)).join(', ')}` },
  );
  section.notes.push(
    `Rounds (turns/s): ${ROUNDS.map((kind, i) => `${kind} ${num(results[kind][Math.floor(i / 2)]!.turnsPerSecond)}`).join(', ')}. "Parley" is visitors, "Baseline" signed-in users, both on the same server.`,
  );
}
