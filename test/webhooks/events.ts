// Webhook events as a completing turn queues them, and the owner's view of their deliveries.
import type { Database } from '../../src/db/client.js';
import { createScoped } from '../../src/db/scope.js';
import { newId } from '../../src/lib/ids.js';
import type { TestApp } from '../helpers/app.js';
import { createConversation } from '../helpers/chat.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';

/**
 * The event a turn's finish statement writes when it completes a conversation
 * (src/features/chat/turns.sql.ts), column for column and with the same payload: only when the
 * chatbot's webhook is set and on, in the owner's tenant, in the transaction of the completion.
 */
const QUEUE_EVENT = `
INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, created_at, next_attempt_at)
SELECT $1::uuid, $2::uuid, b.id, $3::uuid, 'conversation.completed',
       jsonb_build_object('conversation_id', $3::uuid, 'chatbot_id', b.id, 'data', $4::jsonb, 'completed_at', to_char($5::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'visitor', $6::jsonb),
       $5::timestamptz, $5::timestamptz
  FROM chatbots b WHERE b.id = $7::uuid AND b.webhook_url IS NOT NULL AND b.webhook_enabled
RETURNING id`;

export interface CompletedEvent {
  conversationId: string;
  /** The event's id (its webhook-id); null when the chatbot's webhook was off and none was queued. */
  eventId: string | null;
  completedAt: Date;
}

/** Completes a conversation of the owner's chatbot with `data`, as the last turn of a collecting chat does. */
export async function completeConversation(
  database: Database,
  ownerId: string,
  conversationId: string,
  chatbotId: string,
  data: Record<string, unknown>,
  visitor: { visitor_id: string; name: string | null } | null = null,
): Promise<CompletedEvent> {
  const completedAt = new Date();
  const eventId = newId();
  const rows = await createScoped(database.app).user(ownerId, async ({ sql }) => {
    await sql.query("UPDATE conversations SET status = 'completed', data = $2::jsonb, updated_at = $3 WHERE id = $1", [conversationId, JSON.stringify(data), completedAt]);
    return sql.query<{ id: string }>(QUEUE_EVENT, [eventId, ownerId, conversationId, JSON.stringify(data), completedAt, visitor ? JSON.stringify(visitor) : null, chatbotId]);
  });
  return { conversationId, eventId: rows[0]?.id ?? null, completedAt };
}

/** A new conversation of the chatbot, completed at once. */
export async function completedEvent(t: TestApp, owner: RegisteredUser, chatbotId: string, data: Record<string, unknown> = { company_name: 'Acme' }): Promise<CompletedEvent> {
  const conversation = await createConversation(t, owner, { chatbot_id: chatbotId });
  return completeConversation(t.database, owner.id, conversation.id, chatbotId, data);
}

/**
 * `count` events of the chatbot, queued one right after another: the conversations are made
 * first, so however slow the machine, the worker does not send some before the rest are there.
 */
export async function completedEvents(t: TestApp, owner: RegisteredUser, chatbotId: string, count: number): Promise<CompletedEvent[]> {
  const conversations = [];
  for (let i = 0; i < count; i++) conversations.push(await createConversation(t, owner, { chatbot_id: chatbotId }));
  const events = [];
  for (const conversation of conversations) events.push(await completeConversation(t.database, owner.id, conversation.id, chatbotId, { company_name: 'Acme' }));
  return events;
}

export interface DeliveryView {
  id: string;
  type: string;
  conversation_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: Array<{ attempt: number; status_code: number | null; error: string | null; latency_ms: number | null; started_at: string }>;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** One delivery as the owner's delivery log shows it. */
export async function deliveryOf(t: TestApp, owner: RegisteredUser, chatbotId: string, eventId: string): Promise<DeliveryView | undefined> {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/webhook-deliveries?limit=100`, headers: bearer(owner.accessToken) });
  if (response.statusCode !== 200) throw new Error(`delivery log failed: ${response.statusCode} ${response.body}`);
  return (response.json().data as DeliveryView[]).find((delivery) => delivery.id === eventId);
}

/** Reads the delivery log until the delivery satisfies `done`. */
export async function waitForDelivery(
  t: TestApp,
  owner: RegisteredUser,
  chatbotId: string,
  eventId: string,
  done: (delivery: DeliveryView) => boolean,
  timeoutMs = 20_000,
): Promise<DeliveryView> {
  const until = Date.now() + timeoutMs;
  let last: DeliveryView | undefined;
  while (Date.now() < until) {
    last = await deliveryOf(t, owner, chatbotId, eventId);
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`delivery ${eventId} did not get there within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

/** Sets the chatbot's webhook url as its owner would; answers the chatbot (with the secret when one was made). */
export async function setWebhook(t: TestApp, owner: RegisteredUser, chatbotId: string, url: string | null) {
  const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${chatbotId}`, headers: bearer(owner.accessToken), payload: { webhook_url: url } });
  if (response.statusCode !== 200) throw new Error(`setting the webhook failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

/**
 * Env for an app that delivers to the loopback receiver, polling and retrying quickly. One JWT
 * secret for every instance, so a user's token works on the instance that follows a restart.
 */
export const WEBHOOK_TEST_ENV: Record<string, string> = {
  JWT_SECRET: 'webhook tests: one secret for every instance of the same database',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_POLL_MS: '50',
  WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_LEASE_MS: '3000',
};
