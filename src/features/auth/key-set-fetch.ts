// An issuer's key set is a few kilobytes. Its server is someone else's: one that answers without
// end (broken, or hostile) had the whole fetch timeout to fill memory — 1.5 GB in 5 s over
// loopback — before one string of it was parsed. Reading stops at a bound instead.

/** Far above any real key set (Google's, with several RSA keys, is ~2 KB). */
export const MAX_KEY_SET_BYTES = 512 * 1024;

/** `fetch` whose answer's body is read in full here, and refused past `maxBytes`. */
export async function fetchKeySet(url: string | URL, init: RequestInit = {}, maxBytes = MAX_KEY_SET_BYTES): Promise<Response> {
  const response = await fetch(url, init);
  const tooLarge = () => new Error(`the key set is larger than ${Math.round(maxBytes / 1024)} KB`);
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    return new Response(null, { status: response.status, headers: response.headers });
  }
  if (Number(response.headers.get('content-length')) > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), { status: response.status, headers: response.headers });
}
