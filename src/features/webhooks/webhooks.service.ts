// What a chatbot's owner does with its webhook beyond setting the url (chatbots.service.ts):
// reads the delivery log, asks for an event again, and rotates the signing secret.
import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { decodeCursor, isIsoTime, toPage, type Page } from '../../lib/pages.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import { generateSecret } from './signing.js';
import type { DeliveryRecord, WebhooksRepo } from './webhooks.repo.js';
import type { Delivery } from './webhooks.schemas.js';

export interface WebhooksService {
  deliveries(caller: Principal, chatbotId: string, query: { limit: number; cursor?: string }): Promise<Page<Delivery>>;
  /** A new attempt now, with the event's id and body; its retries start the schedule afresh. */
  redeliver(caller: Principal, chatbotId: string, deliveryId: string): Promise<Delivery>;
  rotateSecret(caller: Principal, chatbotId: string): Promise<{ webhook_secret: string }>;
}

export interface WebhooksServiceDeps {
  repo: WebhooksRepo;
  chatbots: Pick<ChatbotsService, 'get'>;
  clock: Clock;
}

/** How long the secret before a rotation still signs deliveries. */
export const PREVIOUS_SECRET_OVERLAP_MS = 24 * 3_600_000;

const deliveryNotFound = () => new AppError('not_found', 'No webhook delivery with this id for this chatbot');
/**
 * The chatbot's state, not the request, is what stands in the way (both take no fields): 409, as
 * the API's other refusals of what a resource's state does not allow, not a 422 with no field to name.
 */
const webhookOff = (why: string, action: string) =>
  new AppError('webhook_off', `This chatbot's webhook is off (${why}): set its webhook_url with PATCH /v1/chatbots/{id} before you ${action}`);

export function toDelivery(row: DeliveryRecord): Delivery {
  return {
    id: row.id,
    type: row.type,
    conversation_id: row.conversationId,
    status: row.status,
    attempts: row.attemptRows.map((attempt) => ({
      attempt: attempt.attempt,
      status_code: attempt.statusCode,
      error: attempt.error,
      latency_ms: attempt.latencyMs,
      started_at: attempt.startedAt.toISOString(),
    })),
    attempt_count: row.attempts,
    next_attempt_at: row.status === 'pending' && row.nextAttemptAt ? row.nextAttemptAt.toISOString() : null,
    created_at: row.createdAt.toISOString(),
    delivered_at: row.deliveredAt ? row.deliveredAt.toISOString() : null,
  };
}

export function createWebhooksService(deps: WebhooksServiceDeps): WebhooksService {
  const { repo, chatbots, clock } = deps;
  return {
    async deliveries(caller, chatbotId, query) {
      const chatbot = await chatbots.get(caller, chatbotId);
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      const rows = await repo.list(caller.ownerId, chatbot.id, query.limit, after ? [new Date(after[0]!), after[1]!.toLowerCase()] : null);
      return toPage(rows, query.limit, toDelivery, (row) => [row.createdAt.toISOString(), row.id]);
    },
    async redeliver(caller, chatbotId, deliveryId) {
      const chatbot = await chatbots.get(caller, chatbotId);
      if (!isUuid(deliveryId)) throw deliveryNotFound();
      if (!(await repo.find(caller.ownerId, chatbot.id, deliveryId.toLowerCase()))) throw deliveryNotFound();
      if (chatbot.webhook_url === null || !chatbot.webhook_enabled) throw webhookOff('no webhook_url, or a receiver answered 410 Gone', 'redeliver');
      const row = await repo.redeliver(caller.ownerId, chatbot.id, deliveryId.toLowerCase(), clock.now());
      if (!row) throw deliveryNotFound();
      return toDelivery(row);
    },
    async rotateSecret(caller, chatbotId) {
      const chatbot = await chatbots.get(caller, chatbotId);
      const secret = generateSecret();
      const until = new Date(clock.now().getTime() + PREVIOUS_SECRET_OVERLAP_MS);
      if (!(await repo.rotateSecret(caller.ownerId, chatbot.id, secret, until))) throw webhookOff('no webhook_url', 'rotate its secret');
      return { webhook_secret: secret };
    },
  };
}
