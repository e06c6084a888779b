import type { LlmFailure } from './errors.js';

// A refusal is sent again unchanged by the next try, and refused again; a spent quota stays spent
// until someone with the provider's account raises it. Only the other failures may pass.
const ADVICE: Partial<Record<LlmFailure, string>> = {
  rejected: "the model's provider refused the request, and would refuse it again: the chatbot's model settings (its model, temperature, stop sequences, reply length) may not suit that model",
  quota_exceeded: "the model provider's quota is spent: the server's operator must raise it",
};

/** What a caller is told to do after the model failed this way (`failure` as stored on the reply). */
export function failureAdvice(failure: string | null | undefined): string {
  return (failure && ADVICE[failure as LlmFailure]) || 'try again later';
}
