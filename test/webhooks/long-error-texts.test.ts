// What a failed attempt says is kept in the delivery log (each attempt's `error`, the delivery's
// last one) and written to the server's log. Some of Node's errors carry what the receiver sent:
// a certificate that does not name the host lists every name it does hold, and one from a public
// certificate authority may hold a hundred. Any account could point its webhook at such a host
// and have kilobytes stored at every attempt, and every page of its delivery log read back tens of
// megabytes. The error is now cut to a sentence's length, saying what it was.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall } from '../helpers/http-call.js';

const cli = cliProcesses();
const NAMES = Array.from({ length: 100 }, (_, i) => `receiver-${String(i).padStart(3, '0')}.a-long-name-of-some-other-site.example.com`);
let receiver: Server;
let caFile: string;

/** A certificate authority of the test's own, and a receiver's certificate it signed for NAMES only (not 127.0.0.1). */
function certificates(dir: string) {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=Test authority', '-keyout', 'ca.key', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${NAMES[0]}`, '-keyout', 'receiver.key', '-out', 'receiver.csr');
  writeFileSync(join(dir, 'names.cnf'), `subjectAltName=${NAMES.map((name) => `DNS:${name}`).join(',')}\n`);
  openssl('x509', '-req', '-in', 'receiver.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'receiver.pem', '-extfile', 'names.cnf');
  return { ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'receiver.key')), cert: readFileSync(join(dir, 'receiver.pem')) };
}

beforeAll(async () => {
  const made = certificates(cli.tempDir('parley-webhook-certificates-'));
  caFile = made.ca;
  receiver = createServer({ key: made.key, cert: made.cert }, (_request, response) => response.end('ok'));
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  cli.cleanUp();
  await new Promise((resolve) => receiver?.close(resolve));
});

type Delivery = { status: string; attempts: { error: string | null }[] };

describe('a webhook receiver whose certificate names a hundred other hosts', () => {
  it('fails the attempt with its error cut short, in the delivery log and the server log', { timeout: 120_000 }, async () => {
    const { base, server } = await serveUntilHealthy(cli, {
      DATA_DIR: join(cli.tempDir('parley-webhook-errors-'), 'data'),
      // The receiver's authority trusted as a public one would be; the receiver is on this machine.
      NODE_EXTRA_CA_CERTS: caFile,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'info',
    });
    expect(server.child.exitCode, server.stderr()).toBeNull();
    const token = (await httpCall(base, 'POST', '/v1/auth/register', undefined, { username: 'hooked', password: 'a long enough password' })).body.access_token as string;
    const chatbot = await httpCall(base, 'POST', '/v1/chatbots', token, {
      name: 'Sign-ups',
      collect: { fields: [{ key: 'email', label: 'email address', type: 'email', required: true }] },
      // By a name the certificate does not hold: Node then lists every name it does.
      webhook_url: `https://localhost:${(receiver.address() as AddressInfo).port}/hook`,
    });
    expect(chatbot.status, JSON.stringify(chatbot.body)).toBe(201);
    const conversation = await httpCall(base, 'POST', '/v1/conversations', token, { chatbot_id: chatbot.body.id });
    for (const content of ['hello', 'dana@example.org']) {
      expect((await httpCall(base, 'POST', `/v1/conversations/${conversation.body.id as string}/messages`, token, { content })).status).toBe(201);
    }

    let delivery: Delivery | undefined;
    for (let i = 0; i < 200 && !delivery?.attempts[0]?.error; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      delivery = ((await httpCall(base, 'GET', `/v1/chatbots/${chatbot.body.id as string}/webhook-deliveries`, token)).body.data as Delivery[])[0];
    }
    const error = delivery?.attempts[0]?.error ?? '';
    expect(error, JSON.stringify(delivery)).toMatch(/^ERR_TLS_CERT_ALTNAME_INVALID: Hostname\/IP does not match certificate's altnames/);
    expect(error.length, error).toBeLessThanOrEqual(300);
    server.child.kill('SIGTERM');
    await server.exited;
    expect(server.stdout()).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(server.stdout()).not.toContain(NAMES[50]);
  });
});
