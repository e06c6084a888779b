/**
 * Phase 14: a chat turn against a large knowledge base. One chatbot holds ≈11,000 chunks of prose
 * drawn from a fixed vocabulary in which a few everyday words ("shop", "open", "time"…) are a third
 * of all words, and one line of weekend hours; questions of each kind (a rare word, common words
 * with a rare one, common words only, two words of middling frequency) are asked one after the
 * other on fresh conversations. The baseline is the same turn to a chatbot of the same owner
 * without knowledge (no search at all). On the embedded database the search runs on Parley's own
 * thread, so every millisecond of it is one every other request waits.
 */
import { percentile, postJson } from './client.js';
import { num, ratio, withUnit, type Section } from './report.js';

const DOCUMENTS = 22;
const WORDS_PER_DOCUMENT = 72_000;
const TURNS = 15;
const HOURS = 'Weekend hours: Saturday 10:00–14:00, Sunday closed.';

/** Words of 3–9 letters from a seeded generator, so every run builds the same knowledge base. */
function vocabulary(size: number, next: () => number): string[] {
  const letters = 'abcdefghijklmnoprstuvw';
  return Array.from({ length: size }, () => {
    let word = '';
    const length = 3 + Math.floor(next() * 7);
    for (let i = 0; i < length; i++) word += letters[Math.floor(next() * letters.length)];
    return word;
  });
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

const COMMON = ['the', 'is', 'on', 'when', 'team', 'time', 'day', 'shop', 'work', 'open', 'week', 'staff'];

function prose(words: number, vocab: string[], next: () => number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const word = next() < 0.35 ? COMMON[Math.floor(next() * COMMON.length)]! : vocab[Math.floor(Math.pow(next(), 2.5) * vocab.length)]!;
    out.push(i % 15 === 14 ? `${word}.` : word);
  }
  return out.join(' ');
}

async function created(what: string, answer: Promise<{ status: number; body: any }>): Promise<any> {
  const { status, body } = await answer;
  if (status !== 201) throw new Error(`${what}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
  return body;
}

/** p50 and p90 of `TURNS` turns asking `question`, each in a new conversation of `chatbotId`. */
async function turns(url: string, token: string, chatbotId: string, question: string): Promise<{ p50: number; p90: number }> {
  const times: number[] = [];
  for (let i = 0; i < TURNS; i++) {
    const conversation = await created('conversation', postJson(`${url}/v1/conversations`, { chatbot_id: chatbotId }, { token }));
    const started = performance.now();
    await created('turn', postJson(`${url}/v1/conversations/${conversation.id}/messages`, { content: question }, { token }));
    times.push(performance.now() - started);
  }
  return { p50: percentile(times, 50), p90: percentile(times, 90) };
}

export async function knowledgePhase(section: Section, say: (line: string) => void, options: { url: string; token: string }): Promise<void> {
  const { url, token } = options;
  const next = seeded(42);
  const vocab = vocabulary(6_000, next);
  const bot = await created('chatbot', postJson(`${url}/v1/chatbots`, { name: 'Knowledge bench' }, { token }));
  const bare = await created('chatbot', postJson(`${url}/v1/chatbots`, { name: 'No knowledge bench' }, { token }));
  let chunks = 0;
  for (let i = 0; i < DOCUMENTS; i++) {
    const doc = await created(`document ${i}`, postJson(`${url}/v1/chatbots/${bot.id}/knowledge`, { title: `Handbook ${i}`, content: prose(WORDS_PER_DOCUMENT, vocab, next) }, { token }));
    chunks += Number(doc.chunk_count);
    if (i % 5 === 4) say(`… ${i + 1}/${DOCUMENTS} documents, ${chunks} chunks`);
  }
  const hours = await created('hours', postJson(`${url}/v1/chatbots/${bot.id}/knowledge`, { title: 'Weekend', content: HOURS }, { token }));
  chunks += Number(hours.chunk_count);
  say(`knowledge base: ${chunks} chunks`);
  // Before: this phase on PGlite at 5a1e272 (every chunk of the chatbot tested, every term alike),
  // on the same machine minutes before the committed run of the current code, 6% of its CPU busy.
  const questions: Array<[string, string, string]> = [
    ['a rare word ("Anything on Saturday?")', 'Anything on Saturday?', '85.9 ms'],
    ['common words and a rare one ("Is the shop open on Saturday?")', 'Is the shop open on Saturday?', '129.8 ms'],
    ['common words only ("Is the shop open?")', 'Is the shop open?', '129.5 ms'],
    ['two words of middling frequency', `What about ${vocab[3000]} and ${vocab[10]}?`, '97.7 ms'],
  ];
  for (const [label, question, before] of questions) {
    const withKnowledge = await turns(url, token, bot.id, question);
    const without = await turns(url, token, bare.id, question);
    say(`${label}: p50 ${num(withKnowledge.p50, 2)} ms with ${chunks} chunks, ${num(without.p50, 2)} ms without knowledge`);
    section.rows.push({
      measure: `Turn p50, ${label} (before, PGlite: ${before})`,
      parley: withUnit(withKnowledge.p50, 'ms', 2),
      baseline: withUnit(without.p50, 'ms', 2),
      ratio: ratio(withKnowledge.p50, without.p50),
      target: '—',
      verdict: '—',
    });
    section.notes.push(`${label}: p90 ${num(withKnowledge.p90, 2)} ms (without knowledge ${num(without.p90, 2)} ms).`);
  }
  section.notes.unshift(`${chunks} chunks in ${DOCUMENTS + 1} documents; ${TURNS} turns per question and chatbot, one at a time, each in a new conversation.`);
}
