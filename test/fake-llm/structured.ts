/**
 * Structured-output requests as OpenAI sees them, for the fake LLM: which mode a request asks for,
 * how a provider that lacks a mode refuses it, and what is answered when nothing is scripted.
 *
 * - `response_format: {type: "json_schema", json_schema: {name, strict, schema}}` → the JSON as the message content;
 * - `response_format: {type: "json_object"}` → the same, the schema being described in the prompt;
 * - `tools` with a forcing `tool_choice` (a named function, or "required") → `tool_calls` with the JSON
 *   as `arguments`, `content: null`, `finish_reason: "tool_calls"`.
 */

export type StructuredMode = 'json_schema' | 'tool' | 'json_object';

export const STRUCTURED_MODES: readonly StructuredMode[] = ['json_schema', 'tool', 'json_object'];

export function structuredModeOf(body: any): StructuredMode | null {
  const format = body?.response_format?.type;
  if (format === 'json_schema' || format === 'json_object') return format;
  const choice = body?.tool_choice;
  const forced = choice === 'required' || (choice && typeof choice === 'object' && choice.type === 'function');
  if (Array.isArray(body?.tools) && body.tools.length > 0 && forced) return 'tool';
  return null;
}

/** The function a tool-mode request forces: the one `tool_choice` names, else the first tool. */
export function forcedToolName(body: any): string {
  const named = body?.tool_choice?.function?.name;
  if (typeof named === 'string') return named;
  const first = Array.isArray(body?.tools) ? body.tools[0]?.function?.name : undefined;
  return typeof first === 'string' ? first : 'tool';
}

function schemaOf(body: any, mode: StructuredMode): any {
  if (mode === 'json_schema') return body?.response_format?.json_schema?.schema;
  if (mode === 'tool') {
    const name = forcedToolName(body);
    const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
    return tools.find((tool) => tool?.function?.name === name)?.function?.parameters;
  }
  return undefined;
}

/** Unscripted: "nothing stated", every property of the schema null (`{}` in JSON mode, which has no schema). */
export function nothingStated(body: any, mode: StructuredMode): Record<string, null> {
  const properties = schemaOf(body, mode)?.properties;
  if (!properties || typeof properties !== 'object') return {};
  return Object.fromEntries(Object.keys(properties).map((key) => [key, null]));
}

/** How OpenAI-compatible servers that lack a mode answer it (400). */
export function refusalOf(mode: StructuredMode): { error: { message: string; type: string; param: string; code: null } } {
  if (mode === 'tool') return { error: { message: 'tools are not supported', type: 'invalid_request_error', param: 'tools', code: null } };
  return { error: { message: `response_format ${mode} is not supported`, type: 'invalid_request_error', param: 'response_format', code: null } };
}

/** A scripted answer as sent: a string verbatim (so malformed JSON can be sent), anything else as JSON. */
export function scriptedText(produced: unknown): string {
  return typeof produced === 'string' ? produced : JSON.stringify(produced) ?? 'null';
}
