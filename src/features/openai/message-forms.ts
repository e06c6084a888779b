// Why a message (or the `stop`) of a chat completion is refused, said before the schema says it
// worse. The schema's unions report their first branch: an image part was "messages.0.content
// must be string" (arrays of text parts are taken), a tool result "messages.1.role must be equal
// to constant", five stop sequences "stop must be string", which sent developers the wrong way.
// These forms are named here instead; whatever else is wrong is still the schema's to say.
import type { FastifyRequest } from 'fastify';
import { validationError } from '../../errors/app-error.js';
import { Unsupported } from './openai-errors.js';
import { MAX_STOP_CHARS, MAX_STOP_SEQUENCES } from './openai.schemas.js';

const ROLES = new Set(['system', 'developer', 'user', 'assistant']);
const TOOL_ROLES = new Set(['tool', 'function']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasItems = (value: unknown) => (Array.isArray(value) ? value.length > 0 : isObject(value));

function checkPart(part: unknown, at: string): void {
  if (!isObject(part) || typeof part.type !== 'string') throw validationError(at, 'must be a text part: {"type": "text", "text": "…"}');
  if (part.type !== 'text') throw new Unsupported(`${at}.type`, `\`${part.type.slice(0, 40)}\` content parts are not supported: this chatbot reads text only.`);
  if (typeof part.text !== 'string') throw validationError(`${at}.text`, 'must be a string: the text of the part');
}

/**
 * An earlier message's parts as the chatbot reads them. Clients send a chat's whole history with
 * every call, an image a user once attached (refused then) included: were it refused again, every
 * later call of that chat would be. So the history's images, audio and files are left out, and an
 * assistant's `refusal` part (OpenAI's form of a model's refusal) is read as its text.
 */
function historyParts(parts: unknown[]): unknown[] {
  return parts.flatMap((part) => {
    if (!isObject(part) || typeof part.type !== 'string' || part.type === 'text') return [part];
    if (part.type === 'refusal' && typeof part.refusal === 'string') return [{ type: 'text', text: part.refusal }];
    return [];
  });
}

function checkMessage(message: unknown, at: string, last: boolean): void {
  if (!isObject(message)) return;
  const { role, content } = message;
  if (typeof role === 'string' && TOOL_ROLES.has(role)) {
    throw new Unsupported(`${at}.role`, `\`${role}\` messages are not supported: this chatbot offers no tools.`);
  }
  if (typeof role === 'string' && !ROLES.has(role)) throw validationError(`${at}.role`, 'must be one of system, developer, user or assistant');
  if (hasItems(message.tool_calls) || hasItems(message.function_call)) {
    const param = hasItems(message.tool_calls) ? 'tool_calls' : 'function_call';
    throw new Unsupported(`${at}.${param}`, 'Tool calls are not supported: this chatbot offers no tools.');
  }
  if (Array.isArray(content)) {
    const parts = last ? content : historyParts(content);
    if (!last) message.content = parts;
    return parts.forEach((part, j) => checkPart(part, `${at}.content.${j}`));
  }
  if (content !== undefined && typeof content !== 'string') throw validationError(`${at}.content`, 'must be a string or an array of text parts');
}

const characters = (text: string) => [...text].length;

function checkStopSequence(sequence: unknown, at: string): void {
  if (typeof sequence !== 'string') throw validationError(at, 'must be a string: a sequence the answer ends before');
  if (sequence === '') throw validationError(at, 'must not be empty');
  if (characters(sequence) > MAX_STOP_CHARS) throw validationError(at, `must be at most ${MAX_STOP_CHARS} characters`);
}

/** OpenAI's `stop`: null, one sequence, or a list of one to four. */
function checkStop(stop: unknown): void {
  if (stop === undefined || stop === null) return;
  if (!Array.isArray(stop)) {
    if (typeof stop !== 'string') throw validationError('stop', `must be a string or a list of 1 to ${MAX_STOP_SEQUENCES} strings`);
    return checkStopSequence(stop, 'stop');
  }
  if (stop.length === 0) throw validationError('stop', 'must hold at least one sequence, or be left out (or null) for none');
  if (stop.length > MAX_STOP_SEQUENCES) throw validationError('stop', `must hold at most ${MAX_STOP_SEQUENCES} sequences`);
  stop.forEach((sequence, i) => checkStopSequence(sequence, `stop.${i}`));
}

/** preValidation of POST /v1/chat/completions: the first message form (or stop) refused, said plainly; the history's unread parts left out. */
export async function explainMessageForms(request: FastifyRequest): Promise<void> {
  if (!isObject(request.body)) return;
  const { messages, stop } = request.body;
  if (Array.isArray(messages)) for (let i = 0; i < messages.length; i++) checkMessage(messages[i], `messages.${i}`, i === messages.length - 1);
  checkStop(stop);
}
