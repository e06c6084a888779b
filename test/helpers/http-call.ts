// One JSON request to a server a test started as its own process, given up after `timeoutMs`
// (a hang is a failure, not a test that waits for ever).
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Record<string, unknown>;
}

export async function httpCall(base: string, method: string, path: string, token?: string, body?: unknown, timeoutMs = 20_000): Promise<HttpAnswer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}
