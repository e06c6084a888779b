/**
 * Phases 3 and 4: what a server adds to one turn, measured on one keep-alive connection with
 * sequential requests, against calling the fake LLM directly with the same kind of message.
 */
import type http from 'node:http';
import { keepAliveAgent, openAiDelta, parleyDelta, percentile, postJson, streamRequest, type ChatApi } from './client.js';

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
}

const MESSAGE = 'What are your opening hours on weekends, and can I book a table for four people?';
// A fresh conversation every few turns: this phase is about the cost of a turn, not of a long history
// (phase 6 is about long histories). Conversations are created outside the timed requests.
const TURNS_PER_CONVERSATION = 10;

function distribution(values: number[]): Distribution {
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
}

/** Calls `once` back to back for `seconds` (after an untimed warm-up of a tenth of that), collecting its ms. */
async function repeat(seconds: number, once: (turn: number) => Promise<number>): Promise<number[]> {
  const warmupUntil = performance.now() + Math.max(500, seconds * 100);
  let turn = 0;
  while (performance.now() < warmupUntil) await once(turn++);
  const values: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) values.push(await once(turn++));
  return values;
}

function directBody(stream: boolean) {
  return { model: 'fake-model', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: MESSAGE }], stream };
}

/** Sequential non-streamed turns against a server (fresh conversation every few turns). */
async function serverTurns(api: ChatApi, token: string, seconds: number, agent: http.Agent): Promise<number[]> {
  let conversation = '';
  return repeat(seconds, async (turn) => {
    if (turn % TURNS_PER_CONVERSATION === 0) conversation = await api.createConversation(token);
    const answer = await api.send(token, conversation, MESSAGE, agent);
    if (answer.status !== 201) throw new Error(`turn answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.ms;
  });
}

export async function directTurns(llmUrl: string, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  const values = await repeat(seconds, async () => {
    const answer = await postJson(`${llmUrl}/chat/completions`, directBody(false), { agent });
    if (answer.status !== 200) throw new Error(`fake LLM answered ${answer.status}`);
    return answer.ms;
  });
  agent.destroy();
  return distribution(values);
}

export async function turnLatency(api: ChatApi, token: string, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  const values = await serverTurns(api, token, seconds, agent);
  agent.destroy();
  return distribution(values);
}

/** Phase 4: time to the first content delta of sequential streamed turns. */
export async function serverTtft(api: ChatApi, token: string, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  let conversation = '';
  const values = await repeat(seconds, async (turn) => {
    if (turn % TURNS_PER_CONVERSATION === 0) conversation = await api.createConversation(token);
    const result = await streamRequest(api.messagesUrl(conversation), { content: MESSAGE, stream: true }, agent, parleyDelta, token);
    if (result.status !== 200 || !result.events.includes('message.end')) throw new Error(`streamed turn: ${result.status}, events ${result.events.join(',')}`);
    return result.ttftMs;
  });
  agent.destroy();
  return distribution(values);
}

export async function directTtft(llmUrl: string, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  const values = await repeat(seconds, async () => {
    const result = await streamRequest(`${llmUrl}/chat/completions`, directBody(true), agent, openAiDelta);
    if (result.status !== 200 || Number.isNaN(result.ttftMs)) throw new Error(`fake LLM stream: ${result.status}`);
    return result.ttftMs;
  });
  agent.destroy();
  return distribution(values);
}

/**
 * With the fake LLM sending chunks 50 ms apart: the gaps between consecutive deltas as the client sees
 * them. A server that buffers shows gaps near 0 (bunched) and one long wait; one that relays shows ≈ 50 ms.
 */
export async function deltaGaps(api: ChatApi | null, llmUrl: string, token: string, turns: number): Promise<{ median: number; p10: number; p90: number; count: number }> {
  const agent = keepAliveAgent();
  const gaps: number[] = [];
  for (let i = 0; i < turns; i++) {
    let result;
    if (api) {
      const conversation = await api.createConversation(token);
      result = await streamRequest(api.messagesUrl(conversation), { content: MESSAGE, stream: true }, agent, parleyDelta, token);
    } else {
      result = await streamRequest(`${llmUrl}/chat/completions`, directBody(true), agent, openAiDelta);
    }
    for (let j = 1; j < result.deltaTimes.length; j++) gaps.push(result.deltaTimes[j]! - result.deltaTimes[j - 1]!);
  }
  agent.destroy();
  return { median: percentile(gaps, 50), p10: percentile(gaps, 10), p90: percentile(gaps, 90), count: gaps.length };
}
