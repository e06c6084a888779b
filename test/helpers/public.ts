// Public chatbots as a visitor's page uses them: start a visit by slug or id, then talk with
// the visitor token the server handed out.
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.js';
import { bearer } from './factories.js';

export interface Visit {
  conversation_id: string;
  visitor_token: string;
  expires_at: string;
}

export function startVisitRaw(t: TestApp, chatbot: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.request({ method: 'POST', url: `/v1/public/chatbots/${chatbot}/conversations`, headers, payload: body });
}

/** A visit that must start (201); `token`: a returning visitor's. */
export async function startVisit(t: TestApp, chatbot: string, options: { visitorId?: string; name?: string; token?: string; origin?: string } = {}): Promise<Visit> {
  const headers: Record<string, string> = { ...(options.token ? bearer(options.token) : {}), ...(options.origin ? { origin: options.origin } : {}) };
  const body: Record<string, unknown> = { visitor_id: options.visitorId ?? 'visitor-1' };
  if (options.name !== undefined) body.visitor_name = options.name;
  const response = await startVisitRaw(t, chatbot, body, headers);
  if (response.statusCode !== 201) throw new Error(`start visit failed: ${response.statusCode} ${response.body}`);
  return response.json() as Visit;
}

export function visitorSend(t: TestApp, token: string, conversationId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.request({ method: 'POST', url: `/v1/public/conversations/${conversationId}/messages`, headers: { ...bearer(token), ...headers }, payload: body });
}

export function visitorMessages(t: TestApp, token: string, conversationId: string, headers: Record<string, string> = {}) {
  return t.request({ method: 'GET', url: `/v1/public/conversations/${conversationId}/messages`, headers: { ...bearer(token), ...headers } });
}
