// What writing a chatbot's `webhook_url` (§5, §9.4) changes: the url is checked as it is written,
// a secret is made when the webhook starts from nothing (shown to the owner that once), and
// writing a url turns the webhook on again after a receiver's 410 Gone turned it off.
import { validationError } from '../../errors/app-error.js';
import type { ChatbotChanges } from '../chatbots/chatbots.repo.js';
import { webhookUrlProblem } from './address-guard.js';
import { generateSecret } from './signing.js';

export interface WebhookUrlChange {
  changes: ChatbotChanges;
  /** The new secret, when this change made one. */
  secret: string | null;
}

export function webhookUrlChange(
  url: string | null,
  current: { webhookUrl: string | null; webhookSecret: string | null } | null,
  settings: { allowPrivate: boolean },
): WebhookUrlChange {
  if (url === null) {
    // Off, and forgotten: a url set later starts again with a new secret, shown then.
    return {
      changes: { webhookUrl: null, webhookSecret: null, webhookPreviousSecret: null, webhookPreviousSecretUntil: null, webhookEnabled: false },
      secret: null,
    };
  }
  const problem = webhookUrlProblem(url, settings.allowPrivate);
  if (problem) throw validationError('webhook_url', problem);
  if (current?.webhookUrl && current.webhookSecret) return { changes: { webhookUrl: url, webhookEnabled: true }, secret: null };
  const secret = generateSecret();
  return {
    changes: { webhookUrl: url, webhookSecret: secret, webhookPreviousSecret: null, webhookPreviousSecretUntil: null, webhookEnabled: true },
    secret,
  };
}
