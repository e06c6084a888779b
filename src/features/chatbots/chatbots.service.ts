import { checkCollect } from '../collection/collect-schema.js';
import { TEMPLATES } from '../collection/templates.js';
import { AppError, validationError } from '../../errors/app-error.js';
import { decodeCursor, isIsoTime, toPage, type Page } from '../../lib/pages.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { isBlank } from '../../lib/text.js';
import { countTokensWithin } from '../../llm/tokens.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotChanges, ChatbotsRepo, ChatbotValues } from './chatbots.repo.js';
import { SLUG_LIKE, systemPromptMaxTokens, toChatbot, type Chatbot, type ChatbotWithSecret, type CreateChatbotInput, type UpdateChatbotInput } from './chatbots.schemas.js';
import { newWebhook, webhookUrlChange } from '../webhooks/webhook-settings.js';
import type { ChatbotRow } from '../../db/schema.js';
import { slugify } from './slugs.js';
import { breaksLine, NOT_ONE_LINE_MESSAGE } from '../../lib/one-line.js';

export interface ChatbotsService {
  /** With `webhook_secret` when a webhook_url was given (shown this once). */
  create(caller: Principal, input: CreateChatbotInput): Promise<ChatbotWithSecret>;
  list(caller: Principal, query: { limit: number; cursor?: string; all?: boolean }): Promise<Page<Chatbot>>;
  get(caller: Principal, id: string): Promise<Chatbot>;
  /** One of the caller's chatbots by id or slug (a key's: its own only); 404 otherwise. */
  named(caller: Principal, idOrSlug: string): Promise<Chatbot>;
  /** With `webhook_secret` when a webhook_url was set where there was none (shown this once). */
  update(caller: Principal, id: string, input: UpdateChatbotInput): Promise<ChatbotWithSecret>;
  remove(caller: Principal, id: string): Promise<void>;
  /** The chatbot a request names (must be the caller's), or the caller's default, created on first need. */
  resolve(caller: Principal, id: string | undefined): Promise<ChatbotRow>;
}

export interface ChatbotsDeps {
  chatbots: ChatbotsRepo;
  clock: Clock;
  models: { allowed: readonly string[]; default: string };
  /** CONTEXT_TOKEN_BUDGET: what a turn sends the model, of which the system prompt may take a share. */
  contextTokenBudget: number;
  /**
   * A chatbot came, changed or went: whatever this instance keeps about it, or about its slug
   * (a miss), is stale (the public directory). Called with the old row and, for a new slug, the new.
   */
  onChanged?: (chatbot: { id: string; slug: string }) => void;
  /** A chatbot was deleted, and its conversations with it: a reply this instance generates in one is read by nobody now. */
  onRemoved?: (chatbotId: string) => void;
  /** A chatbot is private after a change: its visitors' replies being generated here stop with it. */
  onPrivate?: (chatbotId: string) => void;
  /** WEBHOOK_ALLOW_PRIVATE: a webhook_url may name a non-public address. */
  webhooks?: { allowPrivate: boolean };
}

const notFound = () => new AppError('not_found', 'No chatbot with this id');
const slugTaken = (slug: string) => new AppError('slug_taken', `The slug "${slug}" is taken; choose another`);
// Only when slugs set at the same moment by other means took every one tried: a retry succeeds.
const noFreeSlug = () => new AppError('slug_taken', 'Every slug made from the name was taken while this one was chosen; try again, or give a slug');
const withSecret = (chatbot: Chatbot, secret: string | null): ChatbotWithSecret => (secret ? { ...chatbot, webhook_secret: secret } : chatbot);

/**
 * Temperatures are stored as 4-byte floats, which PostgreSQL refuses to round to zero: a value
 * the schema allows but too small for one (1e-50) would fail the write. It means 0.
 */
function storableTemperature(temperature: number): number {
  return Math.fround(temperature) === 0 ? 0 : temperature;
}

function toValues(input: UpdateChatbotInput): ChatbotChanges {
  const map: Record<string, keyof ChatbotValues> = {
    name: 'name',
    description: 'description',
    slug: 'slug',
    is_public: 'isPublic',
    system_prompt: 'systemPrompt',
    greeting: 'greeting',
    model: 'model',
    temperature: 'temperature',
    max_tokens: 'maxTokens',
    use_profile: 'useProfile',
    allowed_origins: 'allowedOrigins',
    token_budget_monthly: 'tokenBudgetMonthly',
    collect: 'collect',
  };
  const values: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input)) {
    if (value !== undefined && map[field]) values[map[field]] = value;
  }
  if (typeof values.temperature === 'number') values.temperature = storableTemperature(values.temperature);
  return values as ChatbotChanges;
}

function checkModel(models: ChatbotsDeps['models'], model: string | undefined) {
  if (model !== undefined && !models.allowed.includes(model)) {
    throw validationError('model', `must be one of: ${models.allowed.join(', ')}`, { detail: 'This server does not offer that model' });
  }
}

/**
 * A host a browser can be at: a name (punycode once parsed), IPv4 or a bracketed IPv6. URL's parser
 * also keeps `*,;'"` and the like in a host; no site has them, and the hosted page's
 * frame-ancestors policy is written from these entries, where `;` would start a directive.
 */
const SITE_HOST = /^(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])$/;

/** A name's part: what DNS takes (underscores too, which some sites' hosts have). */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * URL's parser takes `.`, `..example` and `-bad-.com` as hosts; no site is at one, so such an entry
 * could only ever refuse. A final dot (the fully qualified form) is a host browsers do send.
 */
function isSiteName(host: string): boolean {
  if (host.startsWith('[')) return true;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

const AS_BROWSERS_SEND = 'scheme://host[:port], lowercase, no default port or trailing slash, an international name in its xn-- form';

/** Why an entry is refused, or null: anything but the origin browsers send for a real host. */
function originProblem(origin: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return `must be an origin exactly as browsers send it (${AS_BROWSERS_SEND})`;
  }
  const { origin: canonical, hostname: host } = parsed;
  if (canonical === 'null' || !SITE_HOST.test(host)) return `must be an origin exactly as browsers send it (${AS_BROWSERS_SEND})`;
  if (!isSiteName(host)) {
    return 'names no host a site can be at: each dot-separated part is 1 to 63 letters, digits, hyphens or underscores, neither starting nor ending with a hyphen, and the name at most 253 characters';
  }
  return canonical === origin ? null : `must be written as browsers send it (${AS_BROWSERS_SEND}): write ${canonical}`;
}

/**
 * Origins are compared exactly with what browsers send (§7), so one written otherwise could never
 * match: it is refused with the form to write, rather than stored to refuse the owner's own site
 * later, and the list the owner reads is the list compared. An origin listed twice is refused too.
 */
function checkOrigins(origins: string[] | undefined) {
  const seen = new Map<string, number>();
  for (const [index, origin] of (origins ?? []).entries()) {
    const problem = originProblem(origin);
    if (problem) throw validationError(`allowed_origins.${index}`, `${JSON.stringify(origin)} ${problem}`);
    const first = seen.get(origin);
    if (first !== undefined) throw validationError(`allowed_origins.${index}`, `${JSON.stringify(origin)} is listed already, as allowed_origins.${first}`);
    seen.set(origin, index);
  }
}

// The schema asks for a non-space character; zero-width ones pass it and show nothing.
function checkName(name: string | undefined) {
  if (name === undefined) return;
  if (isBlank(name)) throw validationError('name', 'must not be blank');
  // A name is one line: the widget's title, the hosted page's heading, and what `parley slugs
  // show` prints to an operator's terminal, where escapes would rewrite the line. Surrounding
  // whitespace is trimmed away when stored (a line break a form's text box left).
  if (breaksLine(name.trim())) throw validationError('name', NOT_ONE_LINE_MESSAGE);
}

/**
 * Counted as written, whatever the script (§6.2: the history gets what the prompt leaves). Only a
 * prompt being changed: one stored before the bound, sent back unchanged with another change, is kept.
 */
function checkSystemPrompt(contextTokenBudget: number, prompt: string | undefined, stored?: string) {
  const most = systemPromptMaxTokens(contextTokenBudget);
  if (prompt === undefined || prompt === stored || countTokensWithin(prompt, most) <= most) return;
  throw validationError(
    'system_prompt',
    `must be at most ${most} tokens (five eighths of the server's context budget; fewer characters in scripts such as Chinese than in English): it is sent with every turn, and a longer one leaves the conversation's history no room`,
  );
}

/** Public routes take a slug or an id (§7): a slug that looks like an id could never be reached. */
function checkSlug(slug: string | undefined) {
  if (slug !== undefined && isUuid(slug)) throw validationError('slug', 'must not have the shape of an id (a UUID); public routes would read it as one');
}

/**
 * What of a username a default chatbot's slug is made from. An external user without a username
 * claim is named by their email (§3.2), which no public page shows: a slug is public once the
 * chatbot is, and held server-wide (a slug_taken answer would tell whose address has an account).
 * Only the local part is taken then, as an email sign-up's username is.
 */
const slugName = (username: string) => (username.includes('@') ? username.slice(0, username.lastIndexOf('@')) : username);

async function owned(chatbots: ChatbotsRepo, caller: Principal, id: string): Promise<ChatbotRow> {
  if (!isUuid(id)) throw notFound();
  // A key (or a visitor) reaches its one chatbot, never the owner's others.
  if (caller.chatbotId !== undefined && caller.chatbotId !== id.toLowerCase()) throw notFound();
  const row = await chatbots.find(caller.ownerId, id.toLowerCase());
  if (!row) throw notFound();
  return row;
}

function createChatbotWrites(deps: ChatbotsDeps): Pick<ChatbotsService, 'create' | 'update' | 'remove'> {
  const { chatbots, clock, models } = deps;
  const webhookSettings = deps.webhooks ?? { allowPrivate: false };

  return {
    async create(caller, request) {
      const { template, ...given } = request;
      // A template's fields first; what the request gives wins.
      const input = template ? { ...TEMPLATES[template], ...given } : given;
      checkName(input.name);
      checkModel(models, input.model);
      checkSlug(input.slug);
      checkOrigins(input.allowed_origins);
      checkCollect(input.collect);
      checkSystemPrompt(deps.contextTokenBudget, input.system_prompt);
      const webhook = input.webhook_url ? newWebhook(input.webhook_url, webhookSettings) : null;
      const { slug: _slug, ...changes } = toValues(input);
      const values = { ...changes, ...webhook?.changes, name: input.name.trim(), model: input.model ?? models.default };
      const slug = input.slug ? { exact: input.slug } : { base: slugify(values.name) };
      const row = await chatbots.insert(caller.ownerId, values, slug, clock.now());
      if (!row) throw input.slug ? slugTaken(input.slug) : noFreeSlug();
      // Its slug may have been looked up in vain a moment ago (its page opened before it existed).
      deps.onChanged?.(row);
      return withSecret(toChatbot(row, models), webhook?.secret ?? null);
    },
    async update(caller, id, input) {
      checkName(input.name);
      checkCollect(input.collect);
      checkSlug(input.slug);
      checkOrigins(input.allowed_origins);
      const current = await owned(chatbots, caller, id);
      // A settings form sends the model back as it was read: one the server no longer offers is
      // kept (replies use the default, model_in_use), only choosing it anew is refused.
      if (input.model !== current.model) checkModel(models, input.model);
      checkSystemPrompt(deps.contextTokenBudget, input.system_prompt, current.systemPrompt);
      const webhook = input.webhook_url !== undefined ? webhookUrlChange(input.webhook_url, webhookSettings) : null;
      const changes = { ...toValues(input), ...webhook?.changes };
      if (changes.name !== undefined) changes.name = changes.name.trim();
      const row = await chatbots.update(caller.ownerId, current.id, changes, clock.now());
      if (row === null) throw slugTaken(input.slug!);
      if (!row) throw notFound();
      deps.onChanged?.(current);
      if (row.slug !== current.slug) deps.onChanged?.(row);
      // Read from the row written, not the request: whichever of two changes landed last decides.
      if (!row.isPublic) deps.onPrivate?.(row.id);
      // Shown when this write made the secret: a request at the same time may have made it first.
      const made = webhook?.candidate && row.webhookSecret === webhook.candidate ? webhook.candidate : null;
      return withSecret(toChatbot(row, models), made);
    },
    async remove(caller, id) {
      const row = await owned(chatbots, caller, id);
      if (!(await chatbots.remove(caller.ownerId, row.id))) throw notFound();
      deps.onChanged?.(row);
      deps.onRemoved?.(row.id);
    },
  };
}

function createChatbotReads(deps: ChatbotsDeps): Pick<ChatbotsService, 'list' | 'get' | 'named' | 'resolve'> {
  const { chatbots, clock, models } = deps;

  return {
    async list(caller, query) {
      if (query.all && caller.role !== 'admin') throw new AppError('forbidden', 'Only admins may list every user\'s chatbots');
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      const rows = await chatbots.list(query.all ? null : caller.ownerId, query.limit, after ? [new Date(after[0]!), after[1]!] : null);
      return toPage(rows, query.limit, (row) => toChatbot(row, models), (row) => [row.createdAt.toISOString(), row.id]);
    },
    async get(caller, id) {
      return toChatbot(await owned(chatbots, caller, id), models);
    },
    async named(caller, idOrSlug) {
      if (isUuid(idOrSlug)) return toChatbot(await owned(chatbots, caller, idOrSlug), models);
      if (!SLUG_LIKE.test(idOrSlug)) throw notFound();
      // Slugs are stored lowercase; a client may write one as the chatbot's name reads (Support-Bot).
      const row = await chatbots.findBySlug(caller.ownerId, idOrSlug.toLowerCase());
      if (!row || (caller.chatbotId !== undefined && caller.chatbotId !== row.id)) throw notFound();
      return toChatbot(row, models);
    },
    // Mostly a read: the default is created only the first time a caller needs one.
    async resolve(caller, id) {
      if (id !== undefined || caller.chatbotId !== undefined) return owned(chatbots, caller, id ?? caller.chatbotId!);
      const existing = await chatbots.findDefault(caller.ownerId);
      if (existing) return existing;
      const values: Omit<ChatbotValues, 'slug'> = { name: 'Assistant', model: models.default, isDefault: true };
      const row = await chatbots.insert(caller.ownerId, values, { base: slugify(`${slugName(caller.username)}-assistant`) }, clock.now());
      if (!row) throw noFreeSlug();
      return row;
    },
  };
}

export function createChatbotsService(deps: ChatbotsDeps): ChatbotsService {
  return { ...createChatbotWrites(deps), ...createChatbotReads(deps) };
}
