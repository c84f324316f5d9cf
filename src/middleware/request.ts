/**
 * A request as the middleware core reads it, whatever framework handed it over: a fetch
 * `Request`, or a method, a URL (absolute, or the origin-form path `/mcp?x=1` of RFC 9112 §3.2.1)
 * and headers given as a `Headers`, a record of strings or string arrays (node:http's
 * `headersDistinct`), `[name, value]` pairs, or node:http's flat `rawHeaders`. Every value of a
 * repeated header is kept, so a duplicate `Authorization` is seen (RFC 6750 §3.1 → 400); a
 * `Headers` joins repeats with a comma, which no token contains. Anything else is a `TypeError`
 * whose message names what was wrong and never a header's value.
 *
 * @module
 */
import { codedTypeError } from '../errors.js';
import { type JsonBody, readJsonBody } from '../server/http-body.js';
import { type HttpAnswer, jsonRpcErrorAnswer } from '../server/http-reply.js';

/** Headers in any of the forms frameworks hand them. */
export type HeadersInput =
  | Headers
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | readonly (readonly [string, string])[]
  | readonly string[];

/** A request the framework routed to the protected handler, or to a metadata URL. */
export interface RequestInput {
  /** The HTTP method. */
  readonly method: string;
  /** Absolute, or the origin-form request target (`/mcp?x=1`). */
  readonly url: string | URL;
  /** The request headers, in any {@link HeadersInput} form; every value of a repeated one kept. */
  readonly headers: HeadersInput;
  /**
   * The body when the framework read it already: parsed JSON (Express's `express.json()`,
   * Fastify), or text or bytes (`express.text()`, `express.raw()`, a Fastify parser with
   * `parseAs`), which the tool-scope check decodes as UTF-8 JSON. Any other form is refused (400)
   * when a tool scope needs the body.
   */
  readonly parsedBody?: unknown;
  /** The body's bytes, read only when a tool scope needs it (they are consumed then). */
  readonly body?: (() => AsyncIterable<Uint8Array> | null | undefined) | undefined;
}

/** What the core uses of a request. */
export interface NormalizedRequest {
  readonly method: string;
  readonly url: URL;
  /** `Host` (or the host of an absolute URL when no `Host` header came). */
  readonly host: string | undefined;
  /** Every value of header `name` (lower case), in order. */
  header(name: string): readonly string[];
  /** The JSON body, read (or decoded from the form it came in) once, capped at `max` bytes. */
  json(max: number): Promise<JsonBody>;
  /** This request with the body a framework parsed since it was normalized. */
  withParsedBody(parsedBody: unknown): NormalizedRequest;
}

const PATH_BASE = 'http://mcp-agent.invalid';
const EMPTY: readonly string[] = [];

const badInput = (message: string): TypeError => codedTypeError('ERR_INVALID_ARG_VALUE', message);

/** `url` as a URL: absolute, or a path starting with `/` (kept as the path, `//x` included). */
function urlOf(url: unknown): URL {
  if (url instanceof URL) return url;
  if (typeof url !== 'string') throw badInput('the request URL must be a string or a URL');
  if (url.startsWith('/')) return new URL(`${PATH_BASE}${url}`);
  if (/^https?:\/\//i.test(url) && URL.canParse(url)) return new URL(url);
  throw badInput(
    'the request URL is relative: give an absolute URL or the request target starting with "/"',
  );
}

function add(map: Map<string, string[]>, name: unknown, value: unknown): void {
  if (typeof name !== 'string' || typeof value !== 'string') {
    throw badInput('a header name or value is not a string');
  }
  const key = name.toLowerCase();
  const values = map.get(key);
  if (values) values.push(value);
  else map.set(key, [value]);
}

function fromArray(headers: readonly unknown[], map: Map<string, string[]>): void {
  if (headers.every((item) => Array.isArray(item))) {
    for (const pair of headers as unknown[][]) {
      if (pair.length !== 2) throw badInput('header pairs must be [name, value]');
      add(map, pair[0], pair[1]);
    }
    return;
  }
  if (headers.length % 2 !== 0) throw badInput('raw headers must alternate name and value');
  for (let index = 0; index < headers.length; index += 2) {
    add(map, headers[index], headers[index + 1]);
  }
}

function fromRecord(headers: object, map: Map<string, string[]>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) add(map, name, item);
    else add(map, name, value);
  }
}

/** The headers of `headers` by lower-case name, every value kept. */
function headerMap(headers: unknown): Map<string, string[]> {
  const map = new Map<string, string[]>();
  if (headers instanceof Headers) {
    for (const [name, value] of headers) add(map, name, value);
  } else if (Array.isArray(headers)) {
    fromArray(headers, map);
  } else if (
    headers !== null &&
    typeof headers === 'object' &&
    Object.getPrototypeOf(headers) !== Map.prototype
  ) {
    fromRecord(headers, map);
  } else {
    throw badInput(
      'the request headers must be a Headers, a record of strings or string arrays, or [name, value] pairs',
    );
  }
  return map;
}

async function* noBytes(): AsyncIterable<Uint8Array> {}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A body handed over as text or bytes (`express.text()`, `express.raw()`, Fastify's `parseAs`). */
function bytesOf(parsed: unknown): Uint8Array | undefined {
  if (typeof parsed === 'string') return Buffer.from(parsed, 'utf8');
  if (parsed instanceof ArrayBuffer) return new Uint8Array(parsed);
  if (ArrayBuffer.isView(parsed)) {
    return new Uint8Array(parsed.buffer, parsed.byteOffset, parsed.byteLength);
  }
  return undefined;
}

/** Whether `value` is what `JSON.parse` gives (a plain object or array, or a JSON scalar). */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return true;
  if (typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return Array.isArray(value) || prototype === Object.prototype || prototype === null;
}

/** 400 for a body handed over as something else than JSON, text or bytes (a stream, a `Blob`). */
const NOT_JSON: JsonBody = {
  ok: false,
  answer: jsonRpcErrorAnswer(
    400,
    -32700,
    'Parse error: the request body was handed to the tool-scope check neither as JSON nor as text or bytes',
  ),
};

/**
 * The JSON of a body the framework parsed already: text or bytes are decoded as UTF-8 JSON (capped
 * at `max` bytes), parsed JSON is taken as it is, anything else is refused, so no tool call
 * passes unchecked because of the form it came in.
 */
function handedOver(parsed: unknown, max: number): Promise<JsonBody> {
  const bytes = bytesOf(parsed);
  if (bytes) return readJsonBody(once(bytes), String(bytes.byteLength), max);
  return Promise.resolve(isJsonValue(parsed) ? { ok: true, value: parsed } : NOT_JSON);
}

function bodyOnce(
  read: () => AsyncIterable<Uint8Array> | null | undefined,
  parsed: unknown,
  length: string | undefined,
): (max: number) => Promise<JsonBody> {
  let result: Promise<JsonBody> | undefined;
  return (max) => {
    result ??=
      parsed === undefined
        ? readJsonBody(read() ?? noBytes(), length, max)
        : handedOver(parsed, max);
    return result;
  };
}

/**
 * What the core reads of `input` (a fetch `Request` or a {@link RequestInput}); a shape it cannot
 * read is a `TypeError` (code `ERR_INVALID_ARG_VALUE`).
 */
export function normalizeRequest(input: Request | RequestInput): NormalizedRequest {
  if (input === null || typeof input !== 'object') {
    throw badInput('the request must be a fetch Request or { method, url, headers }');
  }
  const request = input instanceof Request ? fromFetchRequest(input) : input;
  if (typeof request.method !== 'string' || request.method === '') {
    throw badInput('the request method must be a non-empty string');
  }
  const url = urlOf(request.url);
  const headers = headerMap(request.headers);
  const length = headers.get('content-length')?.[0];
  const read = request.body ?? (() => undefined);
  const normalized: NormalizedRequest = {
    method: request.method.toUpperCase(),
    url,
    host: headers.get('host')?.[0] ?? (url.origin === PATH_BASE ? undefined : url.host),
    header: (name) => headers.get(name) ?? EMPTY,
    json: bodyOnce(read, request.parsedBody, length),
    withParsedBody: (parsedBody) => ({ ...normalized, json: bodyOnce(read, parsedBody, length) }),
  };
  return normalized;
}

/** A fetch `Request` as a {@link RequestInput}; its body is read from a clone, so it stays whole. */
function fromFetchRequest(request: Request): RequestInput {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: () => (request.bodyUsed ? undefined : request.clone().body),
  };
}

/**
 * The 400 for a request the framework handed over in a shape the core cannot read (a
 * `TypeError` of {@link normalizeRequest}), or `undefined` for any other error. Its text names
 * what was wrong, never a value.
 */
export function unreadableRequest(error: unknown): HttpAnswer | undefined {
  if (
    !(error instanceof TypeError) ||
    (error as { code?: unknown }).code !== 'ERR_INVALID_ARG_VALUE'
  ) {
    return undefined;
  }
  return {
    status: 400,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: 'invalid_request', error_description: error.message }),
  };
}
