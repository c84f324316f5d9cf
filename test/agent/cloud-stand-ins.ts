/**
 * Stand-ins of the cloud providers whose credential is more than a key, for the tests of
 * `src/agent/models.ts` with the real AI SDK provider packages: a token endpoint (Entra ID's
 * client credentials grant, Google's JWT bearer grant, the assertion verified with the service
 * account's public key), Vertex AI's generateContent (streamed as server-sent events too), and
 * Bedrock's Converse (streamed in AWS's binary event stream too) whose SigV4 signature is
 * recomputed by `aws4` from the request received and the known secret. Each answers with what
 * the test's script says: a tool call, then a final text once the tool's result is sent.
 */
import { readFileSync } from 'node:fs';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import aws4 from 'aws4';
import { type CryptoKey, jwtVerify } from 'jose';
import type { Stub } from '../support/stub-servers.js';
import { converseJson } from './apis/converse.js';
import { GEMINI as GEMINI_JSON } from './apis/gemini.js';
import { type Heard, startRecorder } from './apis/recorder.js';

/** A request as a stand-in received it; `intended` is the URL the provider meant to call. */
export type CloudRequest = Heard;

/** The error `promise` rejects with (the test fails when it resolves). */
export async function failureOf(
  promise: Promise<unknown>,
): Promise<Error & { readonly code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

/** Every place `secret` appears in a request: `header:<name>`, `url`, `body`. */
export { placesIn } from './apis/recorder.js';

// ---------------------------------------------------------------------------------------------
// The token endpoint

/** What the token endpoint accepts. */
export interface TokenEndpointOptions {
  /** Client credentials grant: this client and secret (Basic or in the body). */
  readonly client?: { readonly id: string; readonly secret: string; readonly scope: string };
  /** JWT bearer grant: assertions of this account, signed by this key. */
  readonly account?: { readonly email: string; readonly key: CryptoKey; readonly scope: string };
  /** The tokens' lifetime, seconds (`undefined`: the response has no `expires_in`). */
  readonly expiresIn: number | undefined;
  /** The tokens' prefix (`<prefix>-1`, `<prefix>-2`, …). */
  readonly prefix: string;
  /** The clock an assertion is checked by. Default `Date.now`. */
  readonly now?: () => number;
}

/** A running token endpoint: its URL, the grants it answered, the tokens it issued. */
export interface TokenEndpoint {
  readonly url: string;
  readonly grants: { readonly grantType: string; readonly ok: boolean }[];
  readonly issued: string[];
  /** The last token issued (the only one a stand-in API accepts). */
  readonly current: () => string | undefined;
  close(): Promise<void>;
}

function clientOf(request: CloudRequest, form: URLSearchParams): [string, string] {
  const basic = /^Basic (.+)$/.exec(String(request.headers.authorization ?? ''));
  if (basic) {
    const [id = '', secret = ''] = Buffer.from(basic[1] ?? '', 'base64')
      .toString('utf8')
      .split(':')
      .map(decodeURIComponent);
    return [id, secret];
  }
  return [form.get('client_id') ?? '', form.get('client_secret') ?? ''];
}

async function grantIsValid(
  options: TokenEndpointOptions,
  url: string,
  request: CloudRequest,
  form: URLSearchParams,
): Promise<boolean> {
  const grant = form.get('grant_type');
  if (grant === 'client_credentials' && options.client) {
    const [id, secret] = clientOf(request, form);
    return (
      id === options.client.id &&
      secret === options.client.secret &&
      form.get('scope') === options.client.scope
    );
  }
  if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && options.account) {
    return googleGrantIsValid(options.account, url, request, form, options.now ?? Date.now);
  }
  return false;
}

/** The claims Google's service-account flow documents; `sub` only for domain-wide delegation. */
const GOOGLE_CLAIMS = ['aud', 'exp', 'iat', 'iss', 'scope'];

/**
 * Google's JWT bearer grant for a service account without domain-wide delegation, as
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest documents it:
 * a form of `grant_type` and `assertion` only (no client authentication, no `client_id`); an
 * RS256 assertion signed by the account's key (`kid` its key id) whose claims are `iss` (the
 * account), `scope`, `aud` (the token URI), `iat` and `exp` (at most an hour later), and no `sub`.
 */
async function googleGrantIsValid(
  account: NonNullable<TokenEndpointOptions['account']>,
  url: string,
  request: CloudRequest,
  form: URLSearchParams,
  now: () => number,
): Promise<boolean> {
  const formKeys = [...form.keys()].sort();
  if (formKeys.join(' ') !== 'assertion grant_type') return false;
  if (request.headers.authorization !== undefined) return false;
  if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
    return false;
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(form.get('assertion') ?? '', account.key, {
      issuer: account.email,
      audience: url,
      algorithms: ['RS256'],
      requiredClaims: GOOGLE_CLAIMS,
      currentDate: new Date(now()),
    });
    const claims = Object.keys(payload).sort();
    return (
      claims.join(' ') === GOOGLE_CLAIMS.join(' ') &&
      payload.aud === url &&
      payload.scope === account.scope &&
      (payload.exp ?? 0) - (payload.iat ?? 0) <= 3600 &&
      protectedHeader.kid === 'canary-key-id'
    );
  } catch {
    return false;
  }
}

/** Start a token endpoint at `/token` on a free loopback port. */
export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const grants: { grantType: string; ok: boolean }[] = [];
  const issued: string[] = [];
  const stub = await startRecorder(async (request, res) => {
    const form = new URLSearchParams(request.body);
    const ok = request.path === '/token' && (await grantIsValid(options, url, request, form));
    grants.push({ grantType: form.get('grant_type') ?? '', ok });
    res.setHeader('content-type', 'application/json');
    if (!ok) {
      res.writeHead(400).end(JSON.stringify({ error: 'invalid_grant' }));
      return;
    }
    const token = `${options.prefix}-${issued.length + 1}`;
    issued.push(token);
    res.writeHead(200).end(
      JSON.stringify({
        access_token: token,
        token_type: 'Bearer',
        expires_in: options.expiresIn,
      }),
    );
  });
  const url = `${stub.url}/token`;
  return { url, grants, issued, current: () => issued.at(-1), close: () => stub.close() };
}

// ---------------------------------------------------------------------------------------------
// Scripted model APIs

/** A model's turn: a call of a tool, or a text. */
export type Turn = { readonly tool: string; readonly args: unknown } | { readonly text: string };

/** How a scripted API reads a request and writes a turn. */
interface Api {
  /** The last tool result sent in the request's JSON body, when its last turn carries one. */
  toolResult(body: unknown): string | undefined;
  /** Whether the request asks for a stream (by its path). */
  streams(path: string): boolean;
  answer(turn: Turn): unknown;
  stream(turn: Turn): { contentType: string; body: Uint8Array | string };
}

type Json = Record<string, unknown>;
const lastOf = (list: unknown): Json | undefined =>
  Array.isArray(list) ? (list.at(-1) as Json | undefined) : undefined;

const GEMINI: Api = {
  toolResult: (body) => {
    const parts = lastOf((body as Json).contents)?.parts as Json[] | undefined;
    const response = parts?.find((part) => 'functionResponse' in part)?.functionResponse;
    return response === undefined ? undefined : JSON.stringify(response);
  },
  streams: (path) => path.includes(':streamGenerateContent'),
  answer: (turn) => GEMINI_JSON.json(turn, 1),
  stream: (turn) => {
    const pieces: Turn[] =
      'text' in turn ? [{ text: turn.text.slice(0, 4) }, { text: turn.text.slice(4) }] : [turn];
    const events = pieces.map((piece) => `data: ${JSON.stringify(GEMINI.answer(piece))}\r\n\r\n`);
    return { contentType: 'text/event-stream', body: events.join('') };
  },
};

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const frame = (eventType: string, payload: unknown): Uint8Array =>
  codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });

const CONVERSE: Api = {
  toolResult: (body) => {
    const content = lastOf((body as Json).messages)?.content as Json[] | undefined;
    const result = content?.find((part) => 'toolResult' in part)?.toolResult;
    return result === undefined ? undefined : JSON.stringify(result);
  },
  streams: (path) => path.endsWith('/converse-stream'),
  answer: converseJson,
  stream: (turn) => {
    const block =
      'text' in turn
        ? [
            frame('contentBlockDelta', {
              contentBlockIndex: 0,
              delta: { text: turn.text.slice(0, 4) },
            }),
            frame('contentBlockDelta', {
              contentBlockIndex: 0,
              delta: { text: turn.text.slice(4) },
            }),
          ]
        : [
            frame('contentBlockStart', {
              contentBlockIndex: 0,
              start: { toolUse: { toolUseId: 'tooluse_1', name: turn.tool } },
            }),
            frame('contentBlockDelta', {
              contentBlockIndex: 0,
              delta: { toolUse: { input: JSON.stringify(turn.args) } },
            }),
          ];
    const frames = [
      frame('messageStart', { role: 'assistant' }),
      ...block,
      frame('contentBlockStop', { contentBlockIndex: 0 }),
      frame('messageStop', { stopReason: 'text' in turn ? 'end_turn' : 'tool_use' }),
      frame('metadata', { usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 } }),
    ];
    return { contentType: 'application/vnd.amazon.eventstream', body: Buffer.concat(frames) };
  },
};

/** A request the stand-in refuses: its status and the API's error message. */
export interface Refusal {
  readonly status: number;
  readonly message: string;
}

/** A running scripted API. */
export interface ScriptedCloud {
  readonly url: string;
  readonly received: CloudRequest[];
  /** The turn to answer with; `result` is the last tool result the request carries. */
  script: (result: string | undefined, request: CloudRequest) => Turn;
  /** A refusal when the request's credential is not right (the stand-in's own check). */
  check: (request: CloudRequest) => Refusal | undefined;
  close(): Promise<void>;
}

async function startScripted(api: Api, errorBody: (message: string) => unknown) {
  let stub: Stub | undefined;
  const cloud: ScriptedCloud = {
    url: '',
    received: [],
    script: () => ({ text: 'nothing scripted' }),
    check: () => undefined,
    close: () => stub?.close() ?? Promise.resolve(),
  };
  stub = await startRecorder((request, res) => {
    cloud.received.push(request);
    const refusal = cloud.check(request);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorBody(refusal.message)));
      return;
    }
    const turn = cloud.script(api.toolResult(JSON.parse(request.body)), request);
    if (api.streams(request.path)) {
      const { contentType, body } = api.stream(turn);
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(api.answer(turn)));
    }
  });
  return Object.assign(cloud, { url: stub.url });
}

/** A stand-in of Vertex AI's (Gemini's) generateContent and streamGenerateContent. */
export function startVertexStandIn(): Promise<ScriptedCloud> {
  return startScripted(GEMINI, (message) => ({
    error: { code: 401, message, status: 'UNAUTHENTICATED' },
  }));
}

/** A stand-in of Bedrock's Converse and ConverseStream. */
export function startConverseStandIn(): Promise<ScriptedCloud> {
  return startScripted(CONVERSE, (message) => ({ message }));
}

/**
 * A `fetch` that sends what a provider means for its real host to `origin` instead, saying in a
 * test header which URL was meant (the signature and the token are for that URL).
 */
export { routedTo } from './apis/recorder.js';

/** A script: a call of `tool` first; when the request carries its result, `text(result)`. */
export function toolThenText(
  tool: string,
  args: unknown,
  text: (result: string) => string,
): ScriptedCloud['script'] {
  return (result) => (result === undefined ? { tool, args } : { text: text(result) });
}

// ---------------------------------------------------------------------------------------------
// SigV4, checked by aws4

/** The AWS keys the Converse stand-in knows, by access key id. */
export interface AwsKeyring {
  readonly [accessKeyId: string]: { readonly secret: string; readonly sessionToken?: string };
}

const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

/**
 * Whether `request` is signed with the keyring's secret of its access key: `aws4` signs the
 * request received (the intended host and path, the headers the signature lists, the body)
 * again, and the two signatures must be the same. A refusal saying why, or `undefined`.
 */
export function checkSigV4(request: CloudRequest, keyring: AwsKeyring): Refusal | undefined {
  const refuse = (why: string): Refusal => ({ status: 403, message: why });
  const match = SIGV4.exec(String(request.headers.authorization ?? ''));
  if (!match) return refuse('Missing or malformed SigV4 Authorization header.');
  const [, keyId = '', , region = '', service = '', signedHeaders = '', signature = ''] = match;
  const key = Object.hasOwn(keyring, keyId) ? keyring[keyId] : undefined;
  if (!key) return refuse('The security token included in the request is invalid.');
  if (
    key.sessionToken !== undefined &&
    request.headers['x-amz-security-token'] !== key.sessionToken
  ) {
    return refuse('The security token included in the request is invalid.');
  }
  const intended = new URL(request.intended);
  const names = signedHeaders.split(';');
  const headers: Record<string, string> = {};
  for (const name of names) {
    headers[name] = name === 'host' ? intended.host : String(request.headers[name] ?? '');
  }
  const ignored = Object.fromEntries(
    ['content-type', 'content-length', 'x-amz-security-token']
      .filter((name) => !names.includes(name))
      .map((name) => [name, true] as const),
  );
  const signed = aws4.sign(
    {
      method: request.method,
      host: intended.host,
      path: `${intended.pathname}${intended.search}`,
      headers,
      body: request.body,
      service,
      region,
      extraHeadersToIgnore: ignored,
    } as aws4.Request,
    {
      accessKeyId: keyId,
      secretAccessKey: key.secret,
      ...(key.sessionToken !== undefined ? { sessionToken: key.sessionToken } : {}),
    },
  );
  const again = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers?.Authorization ?? ''))?.[1];
  return again === signature
    ? undefined
    : refuse(
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
}

/** The ```yaml block of docs/agents.md that starts with `first` (its comment line and key). */
export function agentsDocYaml(first: string): string {
  const page = readFileSync(new URL('../../docs/agents.md', import.meta.url), 'utf8');
  const blocks = [...page.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
  const block = blocks.find((text) => text.startsWith(first));
  if (block === undefined) throw new Error(`docs/agents.md has no yaml block starting ${first}`);
  return block;
}
