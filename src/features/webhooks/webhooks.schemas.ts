import { Type, type Static } from 'typebox';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';

const STATUS =
  'pending: an attempt is due at next_attempt_at (or running); delivered: a receiver answered 2xx; failed: every retry was spent, or the webhook was turned off (its url removed, or a 410 Gone)';

export const AttemptSchema = Type.Object(
  {
    attempt: Type.Integer({ description: '1 for the first attempt' }),
    status_code: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's HTTP status; null when none came" }),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why the attempt failed (refused address, timeout, redirect, status…); null when delivered' }),
    latency_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'Until the answer arrived (or the attempt gave up); null when nothing was sent' }),
    started_at: Type.String({ format: 'date-time' }),
  },
  { title: 'WebhookAttempt' },
);

/** How many of a delivery's attempts it is shown with, the latest. */
export const ATTEMPTS_SHOWN = 50;

export const DeliverySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: "The event's id, sent as `webhook-id` on every attempt" }),
    type: Type.String({ description: 'conversation.completed' }),
    conversation_id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], { description: STATUS }),
    attempts: Type.Array(AttemptSchema, { description: `The latest ${ATTEMPTS_SHOWN} attempts (each try and each redelivery makes one), oldest first` }),
    attempt_count: Type.Integer({ minimum: 0, description: 'How many attempts there were in all' }),
    next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    delivered_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last time a receiver answered 2xx' }),
  },
  { title: 'WebhookDelivery' },
);
export type Delivery = Static<typeof DeliverySchema>;

export const DeliveryPage = pageOf(DeliverySchema, 'WebhookDeliveryPage');

export const ListDeliveriesQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery) }, { additionalProperties: false });

export const DeliveryParams = Type.Object({ id: Type.String({ maxLength: 100 }), delivery_id: Type.String({ maxLength: 100 }) });

/** Both actions take no fields: an absent or empty body, or `{}`. */
export const NoFieldsBody = Type.Object({}, { additionalProperties: false, title: 'NoFields' });

export const WebhookSecretSchema = Type.Object(
  {
    webhook_secret: Type.String({
      description: 'The new signing secret, shown this once. For 24 hours deliveries also carry a signature with the previous one, so a receiver can switch over without refusing any.',
    }),
  },
  { title: 'WebhookSecret' },
);
