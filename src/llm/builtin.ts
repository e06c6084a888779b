// The offline responder (§6.3): no network, deterministic, honest about what it knows.
import { LlmError } from './errors.js';
import type { ChatModel, ModelRequest } from './types.js';

const GREETING = /^\s*(hi|hello|hey|hallo|hola|bonjour|good (morning|afternoon|evening)|你好|您好|嗨|নমস্কার|হ্যালো|আসসালামু আলাইকুম)\b[\s!.,?。！？]*$/iu;

const FALLBACK =
  "I'm the built-in offline responder, so I can only answer from this chatbot's knowledge, and I found nothing in it about that. " +
  'Try other words, or ask the owner to add a document that covers it.';

const DEFAULT_GREETING = 'Hello! Ask me anything about what this chatbot knows.';

/** The text of the latest user message. */
function lastUserText(request: ModelRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') return message.content;
  }
  return '';
}

/** Splits a text into lexical terms (the knowledge index's own, so matching agrees with search). */
export type Terms = (text: string) => string[];

const HEADING = /^#{1,6}\s/;

/** Paragraphs of a chunk, each heading kept with the paragraph under it. */
function passages(chunk: string): string[] {
  const blocks = chunk.split(/\n\s*\n/).map((block) => block.trim()).filter(Boolean);
  const result: string[] = [];
  let heading = '';
  for (const block of blocks) {
    if (HEADING.test(block) && !block.includes('\n')) {
      heading = block;
      continue;
    }
    result.push(heading ? `${heading}\n\n${block}` : block);
    heading = '';
  }
  if (heading) result.push(heading);
  return result;
}

/** The passage of the best chunk that shares the most terms with the question. */
function bestPassage(chunk: string, question: string, terms: Terms): string {
  const wanted = new Set(terms(question));
  let best = chunk.trim();
  let bestScore = 0;
  for (const passage of passages(chunk)) {
    const score = new Set(terms(passage).filter((term) => wanted.has(term))).size;
    if (score > bestScore) {
      best = passage;
      bestScore = score;
    }
  }
  return best;
}

export function builtinAnswer(request: ModelRequest, terms: Terms): string {
  const question = lastUserText(request);
  const best = request.knowledge[0];
  if (best && !GREETING.test(question)) return bestPassage(best.content, question, terms);
  if (GREETING.test(question) || question.trim() === '') return request.greeting.trim() || DEFAULT_GREETING;
  return FALLBACK;
}

/** Words with their trailing whitespace, so the pieces join back to the exact text. */
function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/gu) ?? [];
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createBuiltinModel(terms: Terms): ChatModel {
  return {
    async generate(request, onDelta) {
      const text = builtinAnswer(request, terms);
      if (onDelta) {
        for (const piece of pieces(text)) {
          // Yielding between words lets a disconnect or stop interrupt, as with a real model.
          await nextTick();
          if (request.signal.aborted) throw new LlmError('aborted', 'The request was cancelled');
          onDelta(piece);
        }
      }
      return { text, usage: null };
    },
  };
}
