// What writing a chatbot's `webhook_url` (§5, §9.4) changes: the url is checked as it is written,
// a secret is made when the webhook starts from nothing (shown to the owner that once), and
// writing a url turns the webhook on again after a receiver's 410 Gone turned it off.
import { sql } from 'drizzle-orm';
import { chatbots } from '../../db/schema.js';
import { validationError } from '../../errors/app-error.js';
import type { ChatbotChanges, ChatbotUpdate } from '../chatbots/chatbots.repo.js';
import { webhookUrlProblem } from './address-guard.js';
import { generateSecret } from './signing.js';

export interface NewWebhook {
  changes: ChatbotChanges;
  /** The new secret, shown with the chatbot created. */
  secret: string;
}

export interface WebhookUrlChange {
  changes: ChatbotUpdate;
  /** The secret this change makes if the chatbot has none when it is written; shown only if it was kept. */
  candidate: string | null;
}

/** The url as stored: without the spaces around it (a paste's), checked. */
function checked(written: string, settings: { allowPrivate: boolean }): string {
  const url = written.trim();
  const problem = webhookUrlProblem(url, settings.allowPrivate);
  if (problem) throw validationError('webhook_url', problem);
  return url;
}

/** A chatbot created with a webhook_url: its secret is made with it. */
export function newWebhook(url: string, settings: { allowPrivate: boolean }): NewWebhook {
  const secret = generateSecret();
  return { changes: { webhookUrl: checked(url, settings), webhookSecret: secret, webhookEnabled: true }, secret };
}

/**
 * A webhook_url written to a chatbot. Whether it has a secret already is decided by the row as the
 * update writes it, not as read before: two requests setting a url at once both read "none", and
 * each showed a secret of its own while the later write replaced the earlier's.
 */
export function webhookUrlChange(url: string | null, settings: { allowPrivate: boolean }): WebhookUrlChange {
  if (url === null) {
    // Off, and forgotten: a url set later starts again with a new secret, shown then.
    return {
      changes: { webhookUrl: null, webhookSecret: null, webhookPreviousSecret: null, webhookPreviousSecretUntil: null, webhookEnabled: false },
      candidate: null,
    };
  }
  const candidate = generateSecret();
  const fresh = sql`${chatbots.webhookSecret} IS NULL`;
  return {
    changes: {
      webhookUrl: checked(url, settings),
      webhookEnabled: true,
      webhookSecret: sql`coalesce(${chatbots.webhookSecret}, ${candidate})`,
      webhookPreviousSecret: sql`CASE WHEN ${fresh} THEN NULL ELSE ${chatbots.webhookPreviousSecret} END`,
      webhookPreviousSecretUntil: sql`CASE WHEN ${fresh} THEN NULL ELSE ${chatbots.webhookPreviousSecretUntil} END`,
    },
    candidate,
  };
}
