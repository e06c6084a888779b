import type { TestApp } from './app.js';
import { bearer, registerUser, type RegisteredUser } from './factories.js';

/** Env that points the app at a fake LLM server (test/fake-llm). */
export function fakeLlmEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LLM_PROVIDER: 'openai-compatible',
    LLM_BASE_URL: url,
    LLM_API_KEY: 'test-key',
    LLM_MODEL: 'fake-model',
    LLM_RETRY_BASE_MS: '10',
    RATE_LIMIT_MESSAGES_USER: '10000/1m',
    ...extra,
  };
}

export async function createChatbot(t: TestApp, user: RegisteredUser, body: Record<string, unknown> = {}) {
  const response = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name: 'Helper bot', ...body } });
  if (response.statusCode !== 201) throw new Error(`create chatbot failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

export async function createConversation(t: TestApp, user: RegisteredUser, body: Record<string, unknown> = {}) {
  const response = await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: body });
  if (response.statusCode !== 201) throw new Error(`create conversation failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

export function sendMessage(t: TestApp, user: RegisteredUser, conversationId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.request({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/messages`,
    headers: { ...bearer(user.accessToken), ...headers },
    payload: body,
  });
}

/** A user with a conversation, ready to chat. */
export async function chattingUser(t: TestApp) {
  const user = await registerUser(t);
  const conversation = await createConversation(t, user);
  return { user, conversation };
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Parses a complete SSE body (comments dropped). */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split('\n\n')) {
    const lines = block.split('\n').filter((line) => line && !line.startsWith(':'));
    if (lines.length === 0) continue;
    const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message';
    const data = lines
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    events.push({ event, data: data ? JSON.parse(data) : null });
  }
  return events;
}

/** Starts the app on a loopback port for tests that need a real socket (disconnects, timing). */
export async function listen(t: TestApp): Promise<string> {
  return t.app.listen({ host: '127.0.0.1', port: 0 });
}
