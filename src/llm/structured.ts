// Structured output from OpenAI-compatible providers (§9: extraction against the collect schema).
// Providers differ in what they take: strict `response_format: json_schema` (OpenAI and most
// recent servers), a forced tool call (many that lack the former), or plain JSON mode (nearly all).
// A mode a provider refuses (400/422) is skipped, and the first that works is remembered per
// (base URL, model) for the life of the process, so later calls go straight to it.
import { LlmError } from './errors.js';
import { attemptController, classify, type RemoteModelSettings } from './openai-compatible.js';
import { completionMessage, type CompletionMessage } from './openai-http.js';
import { withRetries } from './retry.js';
import type { PromptMessage, StructuredAnswer, StructuredMode, StructuredRequest } from './types.js';

export const STRUCTURED_MODES: readonly StructuredMode[] = ['json_schema', 'tool', 'json_object'];

/** The models one process talks to are few (LLM_MODELS); this only guards against surprises. */
const MAX_REMEMBERED = 1000;

/** A provider that does not take a request of this shape says so with 400 or 422. */
const unsupported = (error: unknown) =>
  error instanceof LlmError && error.failure === 'rejected' && (error.details.status === 400 || error.details.status === 422);

/** JSON mode knows no schema: the prompt carries it, in the first system message. */
function withSchemaInPrompt(messages: PromptMessage[], schema: object): PromptMessage[] {
  const rule =
    'Answer with one JSON object and nothing else. It must follow this JSON schema, with every key present ' +
    `and null where there is no value:\n${JSON.stringify(schema)}`;
  const [first, ...rest] = messages;
  if (first?.role === 'system') return [{ role: 'system', content: `${first.content}\n\n${rule}` }, ...rest];
  return [{ role: 'system', content: rule }, ...messages];
}

function structuredBody(mode: StructuredMode, request: StructuredRequest): string {
  const { model, messages, schema, name } = request;
  switch (mode) {
    case 'json_schema':
      return JSON.stringify({ model, messages, response_format: { type: 'json_schema', json_schema: { name, strict: true, schema } } });
    case 'tool':
      return JSON.stringify({
        model,
        messages,
        tools: [{ type: 'function', function: { name, description: 'Records the answer.', parameters: schema, strict: true } }],
        tool_choice: { type: 'function', function: { name } },
      });
    case 'json_object':
      return JSON.stringify({ model, messages: withSchemaInPrompt(messages, schema), response_format: { type: 'json_object' } });
  }
}

/** Models in JSON mode sometimes wrap the object in a Markdown code fence. */
function unfenced(text: string): string {
  const match = /^\s*```[a-z]*\s*\n([\s\S]*?)\n?\s*```\s*$/iu.exec(text);
  return match ? (match[1] as string) : text;
}

function parseAnswer(mode: StructuredMode, message: CompletionMessage): unknown {
  if (message.refusal !== null) throw new LlmError('rejected', 'The model declined to answer');
  // Some providers answer a forced tool call with plain content: it is the same JSON.
  const text = mode === 'tool' ? (message.toolArguments ?? message.content) : message.content;
  if (text === null || text.trim() === '') throw new LlmError('rejected', 'The model gave no structured answer');
  try {
    return JSON.parse(unfenced(text));
  } catch {
    throw new LlmError('rejected', 'The structured answer is not JSON');
  }
}

/** The structured-output call of a remote model; throws LlmError. */
export function createStructuredOutput(settings: RemoteModelSettings): (request: StructuredRequest) => Promise<StructuredAnswer> {
  const url = `${settings.baseUrl}/chat/completions`;
  /** (base URL, model) → index in STRUCTURED_MODES of the first mode known to work. */
  const learned = new Map<string, number>();

  async function once(mode: StructuredMode, request: StructuredRequest): Promise<StructuredAnswer> {
    const attempt = attemptController(request.signal, settings);
    try {
      const message = await completionMessage({ url, apiKey: settings.apiKey, signal: attempt.signal, expired: attempt.expired, touch: attempt.touch }, structuredBody(mode, request));
      return { value: parseAnswer(mode, message), usage: message.usage, mode };
    } catch (error) {
      throw classify(error, attempt.timedOut(), request.signal.aborted);
    } finally {
      attempt.done();
    }
  }

  function remember(key: string, index: number) {
    if (learned.size >= MAX_REMEMBERED && !learned.has(key)) learned.clear();
    learned.set(key, index);
  }

  return async (request) => {
    const key = `${settings.baseUrl} ${request.model}`;
    const start = learned.get(key) ?? 0;
    let refused: unknown;
    for (let index = start; index < STRUCTURED_MODES.length; index++) {
      const mode = STRUCTURED_MODES[index] as StructuredMode;
      try {
        const answer = await withRetries(settings.retry, request.signal, () => false, () => once(mode, request));
        // Only a mode that answered is learned: when every mode is refused, the request itself
        // (an unknown model, a prompt too long) is the likelier cause, not the modes.
        if (index !== start) remember(key, index);
        return answer;
      } catch (error) {
        if (!unsupported(error) || request.signal.aborted) throw error;
        refused = error;
      }
    }
    throw refused;
  };
}
