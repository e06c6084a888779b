// Wires chatbots, knowledge, conversations and chat turns into the app.
import type { onRequestHookHandler } from 'fastify';
import type { AppOptions } from '../../app.js';
import type { Database } from '../../db/client.js';
import { createHeartbeats } from '../../http/sse.js';
import type { App } from '../../http/types.js';
import type { Clock } from '../../lib/clock.js';
import type { Metrics } from '../../observability/metrics.js';
import { newId } from '../../lib/ids.js';
import { createChatModel } from '../../llm/models.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import { createScoped } from '../../db/scope.js';
import { createChatbotsRepo } from '../chatbots/chatbots.repo.js';
import { registerChatbotRoutes } from '../chatbots/chatbots.routes.js';
import { createChatbotsService } from '../chatbots/chatbots.service.js';
import { createConversationsRepo } from '../conversations/conversations.repo.js';
import { registerConversationRoutes } from '../conversations/conversations.routes.js';
import { createConversationsService } from '../conversations/conversations.service.js';
import { createKnowledgeRepo } from '../knowledge/knowledge.repo.js';
import { registerKnowledgeRoutes } from '../knowledge/knowledge.routes.js';
import { createKnowledgeService } from '../knowledge/knowledge.service.js';
import { searchTerms } from '../knowledge/search-text.js';
import { registerChatRoutes } from './chat.routes.js';
import { createChatService } from './chat.service.js';
import { createGenerations } from './generations.js';
import { createIdempotency } from './idempotency.js';
import { createTurnResponder } from './turn-responder.js';
import { createTurnsRepo } from './turns.repo.js';

const SWEEP_EVERY_MS = 3_600_000;
/** A stop sent to another instance takes effect within this time. */
const STOP_POLL_MS = 500;

export function registerChatFeatures(
  app: App,
  deps: { config: AppOptions['config']; database: Database; limiter: RateLimiter; authenticate: onRequestHookHandler; clock: Clock; metrics: Metrics },
): void {
  const { config, database, limiter, authenticate, clock, metrics } = deps;
  const { llm } = config;
  const scoped = createScoped(database.app);

  const chatbots = createChatbotsService({
    chatbots: createChatbotsRepo(scoped, newId),
    clock,
    models: { allowed: llm.models, default: llm.model },
  });
  const knowledge = createKnowledgeService({ knowledge: createKnowledgeRepo(scoped), chatbots, clock, newId });
  const conversations = createConversationsService({ conversations: createConversationsRepo(scoped), chatbots, clock, newId });
  const generations = createGenerations();
  const chat = createChatService({
    turns: createTurnsRepo(database.app.sql),
    conversations,
    knowledge,
    model: createChatModel(llm, { terms: searchTerms }),
    generations,
    limiter,
    onReply: (report) => {
      metrics.replies.inc({ status: report.status });
      metrics.modelLatency.observe({ status: report.status }, report.latencyMs / 1000);
      if (report.firstTokenMs !== null) metrics.firstToken.observe(report.firstTokenMs / 1000);
      metrics.tokens.inc({ kind: 'prompt' }, report.promptTokens);
      metrics.tokens.inc({ kind: 'completion' }, report.completionTokens);
    },
    clock,
    newId,
    settings: {
      defaultModel: llm.model,
      allowedModels: llm.models,
      contextTokenBudget: config.contextTokenBudget,
      maxMessageChars: config.maxMessageChars,
      messagesPerUser: config.rateLimits.messagesUser,
    },
  });
  const heartbeats = createHeartbeats(config.sseHeartbeatMs, (open) => metrics.openStreams.set(open));
  const idempotency = createIdempotency(scoped);
  const responder = createTurnResponder({ idempotency, heartbeats });

  registerChatbotRoutes(app, { chatbots, authenticate });
  registerKnowledgeRoutes(app, { knowledge, authenticate });
  registerConversationRoutes(app, { conversations, authenticate });
  registerChatRoutes(app, { chat, responder, authenticate });

  const sweep = setInterval(() => {
    idempotency.sweep().catch((error: Error) => app.log.warn({ err: { message: error.message } }, 'idempotency sweep failed'));
  }, SWEEP_EVERY_MS);
  sweep.unref();
  const stopPoll = setInterval(() => {
    chat.applyStopRequests().catch((error: Error) => app.log.warn({ err: { message: error.message } }, 'checking stop requests failed'));
  }, STOP_POLL_MS);
  stopPoll.unref();
  // Running replies get the shutdown grace to finish; what remains is stored as interrupted.
  app.addHook('preClose', async () => {
    clearInterval(sweep);
    clearInterval(stopPoll);
    await generations.drain(config.shutdownGraceMs);
    heartbeats.stop();
  });
}
