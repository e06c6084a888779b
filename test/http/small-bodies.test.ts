// The routes anyone may call without an account read bodies of a few hundred bytes. A larger
// body is refused (413) as soon as its size shows, not buffered, decoded and parsed first: before,
// each such request could make the server hold and parse up to BODY_LIMIT (1 MiB) before any
// limit or credential was checked (400 at once took 400 MB; 20 connections sending them back to
// back held /health at 400 ms).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser, uniqueUsername } from '../helpers/factories.js';

let t: TestApp;
let port: number;
let publicPath: string;
beforeAll(async () => {
  t = await createTestApp();
  port = Number(new URL(await listen(t)).port);
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
  publicPath = `/v1/public/chatbots/${bot.slug}/conversations`;
});
afterAll(async () => {
  await t?.close();
});

/** Sends the head and the first part of a body, and waits (at most `boundMs`) for an answer before the rest. */
function answerBeforeTheRest(head: string, part: string, boundMs = 5_000): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const finish = () => {
      clearTimeout(bound);
      socket.destroy();
      const split = received.indexOf('\r\n\r\n');
      resolve(received ? { status: Number(received.split(' ')[1]), body: received.slice(split + 4) } : null);
    };
    const bound = setTimeout(finish, boundMs);
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      received += data;
      // The whole problem document has arrived once its closing brace has.
      if (received.includes('\r\n\r\n') && received.trimEnd().endsWith('}')) finish();
    });
    socket.on('error', finish);
    socket.on('connect', () => socket.write(head + part));
  });
}

const SMALL_ROUTES = [
  { path: '/v1/auth/register', type: 'application/json' },
  { path: '/v1/auth/login', type: 'application/json' },
  { path: '/v1/auth/refresh', type: 'application/json' },
  { path: '/v1/auth/token', type: 'application/x-www-form-urlencoded' },
];

describe('bodies on the routes open to anyone', () => {
  it.each(SMALL_ROUTES)('$path refuses a 200 kB body from its Content-Length, before the body arrives', async ({ path, type }) => {
    const answer = await answerBeforeTheRest(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: ${type}\r\ncontent-length: 200000\r\n\r\n`, '{"username":"');
    expect(answer, 'answered before the rest of the body').not.toBeNull();
    expect(answer!.status).toBe(413);
    expect(JSON.parse(answer!.body)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it("a visit's start refuses a large body sent in chunks once it passes the route's limit", async () => {
    const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;
    const head = `POST ${publicPath} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`;
    const answer = await answerBeforeTheRest(head, chunk('{"visitor_id":"') + chunk('v'.repeat(40_000)));
    expect(answer, 'answered before the body ended').not.toBeNull();
    expect(answer!.status).toBe(413);
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'payload_too_large' });
  });

  it('nothing is created by a refused body', async () => {
    const username = uniqueUsername('big');
    const users = await t.count('users');
    const response = await t.request({ method: 'POST', url: '/v1/auth/register', payload: { username, password: 'a long enough password', note: 'x'.repeat(20_000) } });
    expect(response.statusCode).toBe(413);
    expect(await t.count('users')).toBe(users);
    const visitors = await t.count('visitors');
    const visit = await t.request({ method: 'POST', url: publicPath, payload: { visitor_id: 'v1', visitor_name: 'n'.repeat(20_000) } });
    expect(visit.statusCode).toBe(413);
    expect(await t.count('visitors')).toBe(visitors);
  });

  it('the largest registration the schema allows still fits, written out as escapes and indented', async () => {
    // 256 characters outside the BMP, each sent as a \uXXXX surrogate pair: 12 bytes a character.
    const password = '😀'.repeat(256);
    const escaped = (text: string) => Array.from({ length: text.length }, (_, i) => `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
    const username = uniqueUsername('e').slice(0, 32);
    const email = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(email.length).toBe(254);
    const body = `{\n    "username": "${username}",\n    "email": "${escaped(email)}",\n    "password": "${escaped(password)}"\n}`;
    const response = await t.request({ method: 'POST', url: '/v1/auth/register', headers: { 'content-type': 'application/json' }, payload: body });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).user.username).toBe(username);
    const login = await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"username":"${username}","password":"${escaped(password)}"}` });
    expect(login.statusCode).toBe(200);
  });
});
