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
  /** The answer ends before the first of these (a caller's `stop` on the OpenAI endpoint). */
  stop?: readonly string[] | null;
  /** What the builtin responder answers from; remote models see it inside `messages`. */
  knowledge: KnowledgeHit[];
  /** The owner's profile when the chatbot uses it (else empty); remote models see it inside `messages`. */
  profile: ProfileFact[];
  greeting: string;
  /** A reply decided before the model (the builtin collector's question, §9): the builtin responder says it as it is. */
  script?: string | null;
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

/** How a structured answer was asked for, best first: what a provider supports is learned per model. */
export type StructuredMode = 'json_schema' | 'tool' | 'json_object';

export interface StructuredRequest {
  model: string;
  messages: PromptMessage[];
  /** A JSON schema that strict modes accept: every key required, no additional properties. */
  schema: object;
  /** Names the schema (and the forced tool): letters, digits, _ and -. */
  name: string;
  signal: AbortSignal;
}

export interface StructuredAnswer {
  /** The parsed JSON, not yet checked against the schema: the model's output is untrusted. */
  value: unknown;
  usage: Usage | null;
  mode: StructuredMode;
}

export interface ChatModel {
  /**
   * Produces one reply. `onDelta` receives each piece of text as it arrives (streaming);
   * without it the model may answer in one piece. Throws LlmError.
   */
  generate(request: ModelRequest, onDelta?: (text: string) => void): Promise<ModelAnswer>;
  /** Structured output against a JSON schema (absent for the builtin responder). Throws LlmError. */
  extract?(request: StructuredRequest): Promise<StructuredAnswer>;
}
