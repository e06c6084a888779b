// The one interface Parley's chat code sees, whatever answers behind it.

export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A knowledge chunk chosen for this turn, best first. */
export interface KnowledgeHit {
  content: string;
  rank: number;
}

/** One filled-in field of the chatbot owner's profile (§4), e.g. {key: 'skills', label: 'Skills', text: '…'}. */
export interface ProfileFact {
  key: string;
  label: string;
  text: string;
}

export interface ModelRequest {
  model: string;
  messages: PromptMessage[];
  temperature: number | null;
  maxTokens: number | null;
  /** What the builtin responder answers from; remote models see it inside `messages`. */
  knowledge: KnowledgeHit[];
  /** The owner's profile when the chatbot uses it (else empty); remote models see it inside `messages`. */
  profile: ProfileFact[];
  greeting: string;
  signal: AbortSignal;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ModelAnswer {
  text: string;
  usage: Usage | null;
}

export interface ChatModel {
  /**
   * Produces one reply. `onDelta` receives each piece of text as it arrives (streaming);
   * without it the model may answer in one piece. Throws LlmError.
   */
  generate(request: ModelRequest, onDelta?: (text: string) => void): Promise<ModelAnswer>;
}
