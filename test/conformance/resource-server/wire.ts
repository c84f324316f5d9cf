/**
 * The harness's HTTP: MCP requests as a client sends them (a real `initialize`, then a request in
 * the session it opened), their JSON-RPC answer read from a JSON or an SSE body, Bearer
 * challenges parsed (RFC 9110 §11.6.1 auth-params), and JSON documents fetched.
 */

/** The protocol revision the probes speak. */
export const PROTOCOL_VERSION = '2025-11-25';

/** An answer, read. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The JSON-RPC message answering the request, when the body held one. */
  readonly message?: Record<string, unknown>;
}

/** A Bearer challenge: its parameters, names lower-cased. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** The fetch the harness uses (injectable). */
export type Fetch = typeof fetch;

let nextId = 1;

/** The first SSE event's data in `text` that parses as the answer to `id`. */
function fromEvents(text: string, id: number): Record<string, unknown> | undefined {
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    try {
      const message = JSON.parse(data) as Record<string, unknown>;
      if (message.id === id) return message;
    } catch {
      // Not JSON: not the answer.
    }
  }
  return undefined;
}

/** Read `response` until the answer to `id` arrives (an SSE stream is cancelled then). */
async function readAnswer(response: Response, id: number): Promise<Answer> {
  const type = response.headers.get('content-type') ?? '';
  const base = { status: response.status, headers: response.headers };
  if (type.includes('text/event-stream') && response.body) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (value) text += decoder.decode(value, { stream: true });
      const message = fromEvents(text, id);
      if (message || done) {
        await reader.cancel().catch(() => undefined);
        return message ? { ...base, message } : base;
      }
    }
  }
  const text = await response.text();
  try {
    const message = JSON.parse(text) as unknown;
    return typeof message === 'object' && message !== null && !Array.isArray(message)
      ? { ...base, message: message as Record<string, unknown> }
      : base;
  } catch {
    return base;
  }
}

/** POST one JSON-RPC request to `url`, with `token` as Bearer when given. */
export async function rpc(
  fetcher: Fetch,
  url: string,
  method: string,
  params: Record<string, unknown>,
  options: { token?: string | undefined; session?: string | undefined } = {},
): Promise<Answer> {
  const id = nextId++;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (method !== 'initialize') headers['mcp-protocol-version'] = PROTOCOL_VERSION;
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.session !== undefined) headers['mcp-session-id'] = options.session;
  const response = await fetcher(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  return readAnswer(response, id);
}

/** A real `initialize`, with `token` when given. */
export function initialize(fetcher: Fetch, url: string, token?: string): Promise<Answer> {
  return rpc(
    fetcher,
    url,
    'initialize',
    {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'resource-server-harness', version: '1.0.0' },
    },
    { token },
  );
}

/** Whether `answer` is a successful initialize result. */
export function initialized(answer: Answer): boolean {
  const result = answer.message?.result as Record<string, unknown> | undefined;
  return answer.status >= 200 && answer.status < 300 && typeof result?.protocolVersion === 'string';
}

function splitOutsideQuotes(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === ',') {
      parts.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(value.slice(start).trim());
  return parts.filter(Boolean);
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PARAM = new RegExp(`^(${TOKEN})\\s*=\\s*(?:"((?:\\\\.|[^"\\\\])*)"|(${TOKEN}))$`);

/** The first challenge of a `WWW-Authenticate` value, or `undefined`. */
export function parseChallenge(value: string | null): Challenge | undefined {
  if (!value) return undefined;
  const parts = splitOutsideQuotes(value);
  const head = new RegExp(`^(${TOKEN})(?:\\s+(.*))?$`).exec(parts[0] ?? '');
  if (!head?.[1]) return undefined;
  const params: Record<string, string> = {};
  for (const part of [head[2], ...parts.slice(1)]) {
    if (part === undefined) continue;
    const match = PARAM.exec(part);
    if (!match?.[1]) break;
    params[match[1].toLowerCase()] = match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '';
  }
  return { scheme: head[1], params };
}

/** GET `url` as JSON: the status and the object, when the body is one. */
export async function getJson(
  fetcher: Fetch,
  url: string,
): Promise<{ status: number; body?: Record<string, unknown> }> {
  const response = await fetcher(url, { headers: { accept: 'application/json' } });
  const text = await response.text();
  try {
    const body = JSON.parse(text) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? { status: response.status, body: body as Record<string, unknown> }
      : { status: response.status };
  } catch {
    return { status: response.status };
  }
}
