// The offline responder (§6.3): no network, deterministic, honest about what it knows.
import { CANCELLED } from './errors.js';
import { countTokens, countTokensWithin } from './tokens.js';
import type { ChatModel, ModelRequest, ProfileFact } from './types.js';

const GREETING = /^\s*(hi|hello|hey|hallo|hola|bonjour|good (morning|afternoon|evening)|你好|您好|嗨|নমস্কার|হ্যালো|আসসালামু আলাইকুম)\b[\s!.,?。！？]*$/iu;

const FALLBACK =
  "I'm the built-in offline responder, so I can only answer from this chatbot's knowledge, and I found nothing in it about that. " +
  'Try other words, or ask the owner to add a document that covers it.';

const FALLBACK_WITH_PROFILE =
  "I'm the built-in offline responder, so I can only answer from this chatbot's knowledge and its owner's profile, and I found nothing there about that. " +
  'Try other words, or ask about their skills, experience or interests.';

const DEFAULT_GREETING = 'Hello! Ask me anything about what this chatbot knows.';

/**
 * Words people ask about each profile field with, beside the field's own label. English only:
 * the words of the field's text match in any language.
 */
const PROFILE_CUES: Record<string, readonly string[]> = {
  name: ['name', 'called'],
  location: ['where', 'location', 'located', 'live', 'lives', 'living', 'based', 'city', 'country'],
  bio: ['who', 'yourself', 'background', 'introduce', 'bio', 'biography'],
  skills: ['skill', 'know', 'technologies', 'tools', 'expertise', 'good'],
  experience: ['work', 'worked', 'working', 'job', 'jobs', 'career', 'projects', 'employer'],
  interests: ['interest', 'hobbies', 'hobby', 'like', 'likes', 'enjoy', 'fun', 'passion'],
};

/** Words too common to tell one answer from another when they appear in a text. */
const COMMON = new Set(
  ('a an the and or of to in on at for with by from is are was were be been do does did you your yours i me my we our it its ' +
    'what which who where when how why can could would should have has had about tell that this there any some not no please').split(' '),
);

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
/** Whether a term is one of the small words a knowledge query leaves out when a question has others. */
export type SmallWord = (term: string) => boolean;

const HEADING = /^#{1,6}\s/;
/** A heading, or the trail of them the chunker repeats atop a later chunk of a long section. */
const isHeadings = (block: string) => block.split('\n').every((line) => HEADING.test(line));

/** Paragraphs of a chunk, each heading kept with the paragraph under it. */
function passages(chunk: string): string[] {
  const blocks = chunk.split(/\n\s*\n/).map((block) => block.trim()).filter(Boolean);
  const result: string[] = [];
  let heading = '';
  for (const block of blocks) {
    if (isHeadings(block)) {
      heading = block;
      continue;
    }
    result.push(heading ? `${heading}\n\n${block}` : block);
    heading = '';
  }
  if (heading) result.push(heading);
  return result;
}

interface Candidate {
  text: string;
  /** Uncommon words shared with the question (profile labels and cues count double). */
  score: number;
}

const uncommonShared = (text: string, wanted: Set<string>, terms: Terms) =>
  new Set(terms(text).filter((term) => wanted.has(term) && !COMMON.has(term))).size;

/**
 * The question's words a passage is chosen by: without its small words when it has others, as
 * the search chose the chunk. Counted, "when", "is", "the", "on" chose whichever passage held most
 * of them over the one that names what the question is about.
 */
function passageWords(wanted: Set<string>, small: SmallWord): Set<string> {
  const telling = new Set([...wanted].filter((term) => !small(term)));
  return telling.size > 0 ? telling : wanted;
}

/** The passage of the best chunk that shares the most terms with the question. */
function bestPassage(chunk: string, wanted: Set<string>, terms: Terms, small: SmallWord): Candidate {
  const words = passageWords(wanted, small);
  let best = chunk.trim();
  let bestScore = 0;
  for (const passage of passages(chunk)) {
    const score = new Set(terms(passage).filter((term) => words.has(term))).size;
    if (score > bestScore) {
      best = passage;
      bestScore = score;
    }
  }
  return { text: best, score: uncommonShared(best, wanted, terms) };
}

/** The profile field the question asks about, by its label and cue words or by the words of its text. */
function bestFact(profile: readonly ProfileFact[], wanted: Set<string>, terms: Terms): Candidate | null {
  let best: Candidate | null = null;
  for (const fact of profile) {
    const cues = new Set([...terms(fact.label), ...(PROFILE_CUES[fact.key] ?? [])]);
    const cueScore = [...wanted].filter((term) => cues.has(term)).length * 2;
    const score = cueScore + uncommonShared(fact.text, wanted, terms);
    if (score > (best?.score ?? 0)) best = { text: `${fact.label}: ${fact.text}`, score };
  }
  return best;
}

/** A question is matched on its beginning: a 32,000-character one's terms took 100 ms (Chinese). */
const QUESTION_TERMS_FROM = 2_000;

export function builtinAnswer(request: ModelRequest, terms: Terms, small: SmallWord): string {
  const question = lastUserText(request);
  const greeting = GREETING.test(question);
  const best = request.knowledge[0];
  // Nothing to match a question against (no knowledge found, no profile): its terms are not needed.
  if (!greeting && (best || request.profile.length > 0)) {
    const wanted = new Set(terms(question.slice(0, QUESTION_TERMS_FROM)));
    const passage = best ? bestPassage(best.content, wanted, terms, small) : null;
    const fact = bestFact(request.profile, wanted, terms);
    // Knowledge was chosen by the search; the profile answers when it matches the question better.
    if (fact && (!passage || fact.score > passage.score)) return fact.text;
    if (passage) return passage.text;
  }
  if (greeting || question.trim() === '') return request.greeting.trim() || DEFAULT_GREETING;
  return request.profile.length > 0 ? FALLBACK_WITH_PROFILE : FALLBACK;
}

/** Words with their trailing whitespace, so the pieces join back to the exact text. */
function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/gu) ?? [];
}

/** The text before the earliest of the stop sequences, as a model that honours them answers. */
export function beforeStop(text: string, stop: readonly string[] | null): string {
  let end = text.length;
  for (const sequence of stop ?? []) {
    const at = text.indexOf(sequence);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}

/**
 * The longest start of `text` within `limit` tokens, cut between characters, as a model stops at
 * the token limit it was asked with: the reply is then counted at the limit and ends for `length`.
 */
export function withinTokens(text: string, limit: number | null): string {
  if (limit === null || countTokensWithin(text, limit) <= limit) return text;
  const points = Array.from(text);
  let fits = 0;
  let over = points.length;
  while (over - fits > 1) {
    const middle = Math.floor((fits + over) / 2);
    if (countTokens(points.slice(0, middle).join('')) <= limit) fits = middle;
    else over = middle;
  }
  return points.slice(0, fits).join('');
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createBuiltinModel(terms: Terms, small: SmallWord): ChatModel {
  return {
    async generate(request, onDelta) {
      const answer = beforeStop(request.script ?? builtinAnswer(request, terms, small), request.stop ?? null);
      const text = withinTokens(answer, request.maxTokens);
      if (onDelta) {
        for (const piece of pieces(text)) {
          // Yielding between words lets a disconnect or stop interrupt, as with a real model.
          await nextTick();
          if (request.signal.aborted) throw CANCELLED;
          onDelta(piece);
        }
      }
      return { text, usage: null };
    },
  };
}
