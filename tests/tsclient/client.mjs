// Scopegate test peer: the official MCP TypeScript SDK client, run against
// the gateway by tests/e2e/tsclient_test.go.
//
// It connects with StreamableHTTPClientTransport, lists the tools, calls the
// allowed tools, tries a forbidden one, closes the session, and prints one
// JSON summary on stdout. The expected failures (401, 403) are part of the
// summary, not the exit status: the script exits 0 whenever it could write
// the summary, 2 on bad usage.
//
// Usage:
//   node client.mjs --url http://127.0.0.1:PORT/mcp [--auth static|client_credentials|interactive]
//                   [--call echo_read,echo_stream] [--forbidden echo_write]
// Secrets come from the environment, so they do not show in `ps`:
//   SCOPEGATE_TOKEN          static and interactive: the access token (empty: no Authorization header)
//   SCOPEGATE_CLIENT_ID      client_credentials and interactive: the OAuth client
//   SCOPEGATE_CLIENT_SECRET  client_credentials: its secret
//   SCOPEGATE_SCOPE          client_credentials: the scope it asks for
//   SCOPEGATE_ISSUER         client_credentials: the issuer its credentials are bound to
// Every option can also come from the environment: SCOPEGATE_MCP_URL,
// SCOPEGATE_AUTH, SCOPEGATE_CALL, SCOPEGATE_FORBIDDEN.
//
// Auth modes:
//   static              requestInit headers carry `Authorization: Bearer <token>`;
//                       no authProvider, so the SDK never retries a 401 or 403.
//   client_credentials  the SDK's ClientCredentialsProvider: it discovers the
//                       authorization server from the 401 challenge's
//                       resource_metadata and fetches tokens itself; it retries
//                       once after a 401 and once after a 403 insufficient_scope.
//   interactive         an authorization-code provider that holds the token and
//                       records the authorization URL the SDK would open
//                       instead of opening it.
//
// Every HTTP exchange is recorded in the summary's `wire` list, and every
// request carries `X-Tsclient-Step: <step>` so the test can tell from the
// upstream's request log which step a forwarded request belonged to.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const STEP_HEADER = 'X-Tsclient-Step';
const REQUEST_TIMEOUT_MS = 15000;
const OVERALL_TIMEOUT_MS = 60000;

const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8')
).version;

function options() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      auth: { type: 'string' },
      call: { type: 'string' },
      forbidden: { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const o = {
    url: values.url ?? env.SCOPEGATE_MCP_URL,
    auth: values.auth ?? env.SCOPEGATE_AUTH ?? 'static',
    call: (values.call ?? env.SCOPEGATE_CALL ?? 'echo_read').split(',').filter(Boolean),
    forbidden: values.forbidden ?? env.SCOPEGATE_FORBIDDEN ?? 'echo_write',
    token: env.SCOPEGATE_TOKEN ?? '',
    clientId: env.SCOPEGATE_CLIENT_ID ?? '',
    clientSecret: env.SCOPEGATE_CLIENT_SECRET ?? '',
    scope: env.SCOPEGATE_SCOPE ?? '',
    issuer: env.SCOPEGATE_ISSUER || undefined,
  };
  if (!o.url) throw new Error('no MCP URL: pass --url or set SCOPEGATE_MCP_URL');
  if (!['static', 'client_credentials', 'interactive'].includes(o.auth)) {
    throw new Error(`unknown --auth ${o.auth}`);
  }
  return o;
}

// describeError keeps what the SDK surfaces: the class, the message, and
// the numeric code (StreamableHTTPError.code is the HTTP status; McpError
// .code is the JSON-RPC error code).
function describeError(err) {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  const d = { name: err.constructor?.name ?? err.name, message: err.message };
  if (err.code !== undefined) d.code = err.code;
  if (err.data !== undefined) d.data = err.data;
  if (err.cause instanceof Error) d.cause = describeError(err.cause);
  return d;
}

function toolText(result) {
  return (result?.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

async function main(o) {
  const summary = {
    sdkVersion,
    auth: o.auth,
    url: o.url,
    protocolVersion: null,
    sessionId: false,
    connect: null,
    tools: null,
    calls: [],
    forbidden: null,
    close: null,
    authorizationUrls: [],
    transportErrors: [],
    wire: [],
  };

  let step = 'connect';
  // recordingFetch is the transport's fetch: it tags each request with the
  // current step and records the exchange.
  const recordingFetch = async (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(STEP_HEADER, step);
    const url = input instanceof Request ? input.url : String(input);
    const entry = { step, method: init.method ?? 'GET', url, auth: headers.has('authorization') };
    // Token and registration requests: keep the form, minus anything secret,
    // so the test can see which scope and resource the SDK asked for.
    if (init.body instanceof URLSearchParams) {
      const form = {};
      for (const [k, v] of init.body) {
        if (!/secret|assertion|code_verifier|refresh_token|^code$/i.test(k)) form[k] = v;
      }
      entry.form = form;
    }
    summary.wire.push(entry);
    try {
      const resp = await fetch(input, { ...init, headers });
      entry.status = resp.status;
      const www = resp.headers.get('www-authenticate');
      if (www) entry.wwwAuthenticate = www;
      const ct = resp.headers.get('content-type');
      if (ct) entry.contentType = ct;
      return resp;
    } catch (err) {
      entry.error = describeError(err);
      throw err;
    }
  };

  const transportOpts = { fetch: recordingFetch };
  if (o.auth === 'static') {
    if (o.token) transportOpts.requestInit = { headers: { Authorization: `Bearer ${o.token}` } };
  } else if (o.auth === 'client_credentials') {
    transportOpts.authProvider = new ClientCredentialsProvider({
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      scope: o.scope || undefined,
      expectedIssuer: o.issuer,
      clientName: 'scopegate-tsclient',
    });
  } else {
    transportOpts.authProvider = interactiveProvider(o, summary);
  }
  const transport = new StreamableHTTPClientTransport(new URL(o.url), transportOpts);
  const client = new Client({ name: 'scopegate-tsclient', version: sdkVersion });
  client.onerror = (err) => summary.transportErrors.push({ step, ...describeError(err) });
  const reqOpts = { timeout: REQUEST_TIMEOUT_MS };

  try {
    await client.connect(transport, reqOpts);
    summary.connect = { ok: true };
    summary.protocolVersion = transport.protocolVersion ?? null;
    summary.sessionId = Boolean(transport.sessionId);
  } catch (err) {
    summary.connect = { ok: false, error: describeError(err) };
    await client.close().catch(() => {});
    return summary;
  }

  step = 'list';
  try {
    const { tools } = await client.listTools(undefined, reqOpts);
    summary.tools = tools.map((t) => t.name).sort();
  } catch (err) {
    summary.listError = describeError(err);
  }

  for (const name of o.call) {
    step = `call:${name}`;
    try {
      const res = await client.callTool({ name, arguments: { text: `hello from ${name}` } }, undefined, reqOpts);
      summary.calls.push({ tool: name, ok: !res.isError, isError: Boolean(res.isError), text: toolText(res) });
    } catch (err) {
      summary.calls.push({ tool: name, ok: false, error: describeError(err) });
    }
  }

  step = 'forbidden';
  try {
    const res = await client.callTool({ name: o.forbidden, arguments: { text: 'should not run' } }, undefined, reqOpts);
    summary.forbidden = { tool: o.forbidden, ok: !res.isError, isError: Boolean(res.isError), text: toolText(res) };
  } catch (err) {
    summary.forbidden = { tool: o.forbidden, ok: false, error: describeError(err) };
  }

  step = 'close';
  try {
    await transport.terminateSession();
    summary.close = { ok: true };
  } catch (err) {
    summary.close = { ok: false, error: describeError(err) };
  }
  await client.close().catch(() => {});
  return summary;
}

// interactiveProvider is an authorization-code OAuthClientProvider for a
// pre-registered public client that already holds a token. Where a real
// host would open the authorization URL in a browser, it records it.
function interactiveProvider(o, summary) {
  let verifier = '';
  let tokens = o.token ? { access_token: o.token, token_type: 'Bearer' } : undefined;
  return {
    get redirectUrl() {
      return 'http://127.0.0.1:9/callback';
    },
    get clientMetadata() {
      return {
        client_name: 'scopegate-tsclient',
        redirect_uris: ['http://127.0.0.1:9/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
    },
    clientInformation() {
      return { client_id: o.clientId || 'scopegate-tsclient' };
    },
    tokens() {
      return tokens;
    },
    saveTokens(t) {
      tokens = t;
    },
    redirectToAuthorization(url) {
      summary.authorizationUrls.push(url.toString());
    },
    saveCodeVerifier(v) {
      verifier = v;
    },
    codeVerifier() {
      return verifier;
    },
  };
}

let opts;
try {
  opts = options();
} catch (err) {
  process.stderr.write(`tsclient: ${err.message}\n`);
  process.exit(2);
}
const timer = setTimeout(() => {
  process.stderr.write(`tsclient: no summary after ${OVERALL_TIMEOUT_MS} ms\n`);
  process.exit(3);
}, OVERALL_TIMEOUT_MS);
try {
  const summary = await main(opts);
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  clearTimeout(timer);
  // Open sockets (the GET listen stream) must not keep the process alive.
  process.exit(0);
} catch (err) {
  process.stderr.write(`tsclient: ${err.stack ?? err}\n`);
  process.exit(1);
}
