// The turn's half of the composition root (compose.ts): the one turn engine every channel's turns
// run through, the stores it writes to, how many may run at once, and how a turn is answered.
import type { ComposeDeps } from './compose.js';
import { createGenerations } from './features/chat/generations.js';
import { createIdempotency } from './features/chat/idempotency.js';
import { createInstancePulse } from './features/chat/instances.js';
import { createAnswersRepo } from './features/chat/answers.repo.js';
import { createReplyProgress } from './features/chat/progress.repo.js';
import { STORE_RETRY_FOR_MS } from './features/chat/reply-store.js';
import { createTurnEngine, type AfterTurn } from './features/chat/turn-engine.js';
import { createTurnResponder } from './features/chat/turn-responder.js';
import { createTurnSlots, type TurnSlots } from './features/chat/turn-slots.js';
import { createTurnsRepo } from './features/chat/turns.repo.js';
import { createUsageBuffer } from './features/chat/usage-buffer.js';
import { createCollector } from './features/collection/collector.js';
import { createExtractor } from './features/collection/extraction.js';
import { searchTerms } from './features/knowledge/search-text.js';
import { isStopWord } from './features/knowledge/stop-words.js';
import { createScoped } from './db/scope.js';
import { createHeartbeats, DEFAULT_STREAM_LIMITS } from './http/sse.js';
import type { createJobs } from './jobs/jobs.js';
import { newId } from './lib/ids.js';
import { EMBEDDED_FILES_LATER, openFileCount, openFileLimit, turnsWithRoom } from './lib/open-files.js';
import { createChatModel } from './llm/models.js';
import { watchTurns, type Metrics } from './observability/metrics.js';

type Jobs = ReturnType<typeof createJobs>;

const SWEEP_EVERY_MS = 3_600_000;
/** The OpenAI endpoint's usage (chatbots without a budget) is written this often, added up. */
const USAGE_FLUSH_MS = 100;
/** How long a turn holds its conversation before the lock lapses (renewed while the model answers). */
export const LEASE_MS = 120_000;
/** Below this many turns at once, the open-file limit is worth a warning at start. */
const FEW_TURNS = 100;

function replyMetrics(metrics: Metrics): AfterTurn {
  return (report) => {
    metrics.replies.inc({ status: report.status });
    metrics.modelLatency.observe({ status: report.status }, report.latencyMs / 1000);
    if (report.firstTokenMs !== null) metrics.firstToken.observe(report.firstTokenMs / 1000);
    metrics.tokens.inc({ kind: 'prompt' }, report.promptTokens);
    metrics.tokens.inc({ kind: 'completion' }, report.completionTokens);
  };
}

/** MAX_CONCURRENT_TURNS as given, or (auto) what the open-file limit leaves room for, told at start. */
export function composeTurnSlots(deps: ComposeDeps): TurnSlots {
  const slots = turnSlotsFor(deps);
  watchTurns(deps.metrics, slots);
  return slots;
}

function turnSlotsFor(deps: ComposeDeps): TurnSlots {
  const { config, database, metrics, log } = deps;
  const onRefused = () => metrics.turnsAtCapacity.inc();
  const chosen = config.maxConcurrentTurns;
  if (chosen !== 'auto') return createTurnSlots({ capacity: chosen, source: `MAX_CONCURRENT_TURNS=${chosen}`, onRefused, log });
  const later = database.kind === 'pglite' ? EMBEDDED_FILES_LATER : config.databasePoolMax;
  const room = turnsWithRoom(openFileLimit(), openFileCount(), later);
  if (room.turns !== null) {
    const fields = { max_concurrent_turns: room.turns, open_file_limit: room.limit, open_files: room.open };
    const told = `at most ${room.turns} turns at once: what the open-file limit of ${room.limit} leaves room for, ${room.open} files being open now (MAX_CONCURRENT_TURNS=auto)`;
    if (room.turns < FEW_TURNS) log.warn(fields, `${told}; raise the limit (systemd LimitNOFILE, docker --ulimit nofile) for more`);
    else log.info(fields, told);
  }
  const source = `MAX_CONCURRENT_TURNS=auto, what the open-file limit of ${room.limit} leaves room for`;
  return createTurnSlots({ capacity: room.turns, source, onRefused, log });
}

/** The one turn engine every channel's turns run through, and the stores it writes to. */
export function composeTurnEngine(deps: ComposeDeps, jobs: Jobs) {
  const { config, database, clock, metrics, log } = deps;
  const { llm } = config;
  const generations = createGenerations();
  // On the embedded database one process holds the folder: its start stores every hold left (server.ts).
  const pulse = database.kind === 'pglite' ? null : createInstancePulse(createScoped(database.app), { heartbeatMs: config.instanceHeartbeatMs });
  const turns = createTurnsRepo(database.app.sql, pulse?.id ?? null);
  const answers = createAnswersRepo(database.app.sql);
  const usage = createUsageBuffer({ write: (count) => answers.addUsage(count), jobs, everyMs: USAGE_FLUSH_MS, retryForMs: STORE_RETRY_FOR_MS });
  const progress = createReplyProgress(database.app.sql);
  const model = createChatModel(llm, { terms: searchTerms, smallWord: isStopWord });
  // The builtin responder asks for each field itself; a model's turns extract what the user stated.
  const collector = createCollector({ extractor: llm.provider === 'builtin' ? null : createExtractor({ model, log, timeoutMs: llm.timeoutMs }), newId });
  const engine = createTurnEngine({
    turns,
    answers,
    usage,
    progress,
    model,
    collector,
    generations,
    jobs,
    clock,
    log,
    afterTurn: [replyMetrics(metrics)],
    settings: { defaultModel: llm.model, allowedModels: llm.models, contextTokenBudget: config.contextTokenBudget, leaseMs: LEASE_MS },
  });
  return { turns, answers, usage, progress, generations, engine, pulse };
}

/** How a turn is answered: streams kept alive and bounded, and Idempotency-Key replays. */
export function composeResponder(deps: ComposeDeps, jobs: Jobs) {
  const { config, database, metrics } = deps;
  const heartbeats = createHeartbeats(config.sseHeartbeatMs, (open) => metrics.openStreams.set(open), {
    ...DEFAULT_STREAM_LIMITS,
    writeTimeoutMs: config.sseWriteTimeoutMs,
  });
  const idempotency = createIdempotency(createScoped(database.app));
  jobs.every(
    'idempotency sweep',
    SWEEP_EVERY_MS,
    async () => {
      await idempotency.sweep();
    },
    { rests: true },
  );
  return { heartbeats, responder: createTurnResponder({ idempotency, heartbeats, jobs }) };
}
