// Scopegate test peer: the official MCP TypeScript SDK through the whole
// interactive OAuth flow, run by tests/e2e/tsclient_oauth_test.go.
//
// Its OAuthClientProvider registers as a public client and, where an app
// would open a browser, follows the authorization URL like one: it GETs
// it, follows the redirects through the provider's login page (which the
// test answers), and stops at the redirect to its own redirect URI, whose
// code it hands to finishAuth. The flow:
//
//   connect: 401 → resource metadata → AS metadata → registration →
//            authorize → UnauthorizedError → finishAuth(code) → connect
//   tools/list (read tools only) → read call → write call: 403
//   insufficient_scope → the SDK re-authorizes with the challenged scope →
//   UnauthorizedError → finishAuth(code) → the app retries the write →
//   tools/list again, now with the write tools.
//
// With a provider that issues refresh tokens the SDK first refreshes on the
// 403, which cannot widen the scope, and throws "Server returned 403 after
// trying upscoping"; the app then drops its tokens and starts a new
// authorization itself, with the scope of the last challenge.
//
// It prints one JSON summary on stdout and exits 0 whenever it could write
// it; failures are in the summary.
//
// Usage: node oauth_flow.mjs --url URL --read TOOL --read-args JSON
//                            --write TOOL --write-args JSON

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';

const REDIRECT = 'http://127.0.0.1:9/tsclient/callback';
const OVERALL_TIMEOUT_MS = 90000;

const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8')
).version;

const { values: o } = parseArgs({
  options: {
    url: { type: 'string' },
    read: { type: 'string' },
    'read-args': { type: 'string' },
    write: { type: 'string' },
    'write-args': { type: 'string' },
  },
  strict: true,
});

const summary = {
  sdkVersion,
  protocolVersion: null,
  steps: [],
  authorizationUrls: [],
  lists: [],
  read: null,
  write: null,
  error: null,
  wire: [],
};

function describeError(err) {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  const d = { name: err.constructor?.name ?? err.name, message: err.message };
  if (err.code !== undefined) d.code = err.code;
  return d;
}

let lastChallengeScope;

// loggingFetch is the logging front: every request the SDK makes, with
// the non-secret parameters of token requests.
async function loggingFetch(input, init = {}) {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const entry = { method: init.method ?? 'GET', url: url.origin + url.pathname, params: {} };
  if (init.body instanceof URLSearchParams) {
    for (const k of ['grant_type', 'resource', 'scope']) {
      const v = init.body.getAll(k);
      if (v.length) entry.params[k] = v;
    }
  } else if (typeof init.body === 'string') {
    const m = /"method"\s*:\s*"([^"]+)"/.exec(init.body);
    if (m) entry.rpc = m[1];
  }
  summary.wire.push(entry);
  const resp = await fetch(input, init);
  entry.status = resp.status;
  const www = resp.headers.get('www-authenticate');
  if (www) entry.challenge = www;
  if (resp.status === 403 && www) {
    const m = /scope="([^"]*)"/.exec(www);
    if (m) lastChallengeScope = m[1];
  }
  return resp;
}

// browser follows an authorization URL the way a browser would, through
// the login page, and returns the query of the redirect to REDIRECT.
async function browser(authUrl) {
  let next = authUrl.toString();
  for (let i = 0; i < 10; i++) {
    const u = new URL(next);
    const entry = { method: 'GET', url: u.origin + u.pathname, params: {}, browser: true };
    if (u.pathname.endsWith('/authorize')) {
      for (const k of ['scope', 'resource', 'code_challenge_method']) {
        const v = u.searchParams.getAll(k);
        if (v.length) entry.params[k] = v;
      }
    }
    summary.wire.push(entry);
    const resp = await fetch(next, { redirect: 'manual' });
    entry.status = resp.status;
    await resp.body?.cancel();
    const loc = resp.headers.get('location');
    if (!loc) throw new Error(`authorization stopped at ${u.pathname} with ${resp.status}`);
    const target = new URL(loc, next);
    if (target.toString().startsWith(REDIRECT)) return target.searchParams;
    next = target.toString();
  }
  throw new Error('authorization: too many redirects');
}

// Provider is an OAuthClientProvider of a native app: public client, PKCE,
// state kept in memory.
class Provider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.code = undefined;
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: 'scopegate e2e (typescript sdk)',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  async redirectToAuthorization(url) {
    summary.authorizationUrls.push(url.toString());
    const q = await browser(url);
    if (q.get('error')) throw new Error(`authorization refused: ${q.get('error')}`);
    this.code = q.get('code');
  }
}

async function listTools(client) {
  const names = [];
  const hidden = { count: 0, scopes: [] };
  let cursor;
  do {
    const res = await client.listTools(cursor ? { cursor } : undefined);
    for (const t of res.tools) names.push(t.name);
    const h = res._meta?.['scopegate/hidden'];
    if (h) {
      hidden.count += h.count;
      for (const s of h.scopes) if (!hidden.scopes.includes(s)) hidden.scopes.push(s);
    }
    cursor = res.nextCursor;
  } while (cursor);
  names.sort();
  hidden.scopes.sort();
  return { names, hidden };
}

// withAuthorization runs op; after an UnauthorizedError (the SDK sent the
// user to authorize) it completes the authorization and runs op again.
async function withAuthorization(name, transport, provider, op) {
  try {
    return await op();
  } catch (err) {
    if (err instanceof UnauthorizedError) {
      summary.steps.push(`${name}: UnauthorizedError, finishAuth`);
      await transport.finishAuth(provider.code);
      return await op();
    }
    if (err?.code === 403 && /after trying upscoping/.test(err.message)) {
      // The refresh could not widen the scope: a new authorization.
      summary.steps.push(`${name}: 403 after trying upscoping, new authorization for "${lastChallengeScope}"`);
      provider.saveTokens(undefined);
      const result = await auth(provider, { serverUrl: new URL(o.url), scope: lastChallengeScope, fetchFn: loggingFetch });
      if (result !== 'REDIRECT') throw new Error(`auth() returned ${result}, want REDIRECT`);
      await transport.finishAuth(provider.code);
      return await op();
    }
    throw err;
  }
}

async function main() {
  const provider = new Provider();
  const client = new Client({ name: 'scopegate-e2e-ts', version: '1' });
  const url = new URL(o.url);
  let transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: loggingFetch });
  try {
    await client.connect(transport);
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    summary.steps.push('connect: UnauthorizedError, finishAuth');
    await transport.finishAuth(provider.code);
    transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: loggingFetch });
    await client.connect(transport);
  }
  summary.protocolVersion = transport.protocolVersion ?? null;
  summary.steps.push('connected');

  summary.lists.push(await listTools(client));
  summary.steps.push('listed');

  const read = await client.callTool({ name: o.read, arguments: JSON.parse(o['read-args']) });
  summary.read = { isError: !!read.isError, structured: read.structuredContent ?? null };
  summary.steps.push('read');

  const write = await withAuthorization('write', transport, provider,
    () => client.callTool({ name: o.write, arguments: JSON.parse(o['write-args']) }));
  summary.write = { isError: !!write.isError, structured: write.structuredContent ?? null };
  summary.steps.push('write');

  summary.lists.push(await listTools(client));
  summary.steps.push('listed again');
  await client.close();
}

const timer = setTimeout(() => {
  summary.error = { name: 'Timeout', message: `no result after ${OVERALL_TIMEOUT_MS} ms` };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(0);
}, OVERALL_TIMEOUT_MS);

try {
  await main();
} catch (err) {
  summary.error = describeError(err);
}
clearTimeout(timer);
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(0);
