/**
 * SEP-2243 custom parameter headers on protocol 2026-07-28 (Streamable HTTP, "Custom Headers
 * from Tool Parameters"): a tool's `inputSchema` marks a parameter with `x-mcp-header: NAME`,
 * and a client calling it sends the argument's value in `Mcp-Param-NAME` too (Base64-wrapped as
 * `=?base64?…?=` when it is not plain ASCII), so that proxies can route on it. The server must
 * refuse a call whose header is missing, badly encoded or disagrees with the body: HTTP 400 with
 * JSON-RPC -32020 (`HeaderMismatch`). The SDK checks this only for an `McpServer`; `serve`'s
 * modern leg builds a low-level `Server`, so it checks here, against the definition it lists.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';

/** One parameter a tool's schema mirrors into a header. */
export interface ParamHeader {
  /** The chain of `properties` keys from the schema's root to the parameter. */
  readonly path: readonly string[];
  /** The header's name after `Mcp-Param-`, as declared. */
  readonly name: string;
  /** Compared as a number (an `integer` or `number` parameter: `42.0` equals `42`). */
  readonly numeric: boolean;
}

/** Why a call's headers were refused (no argument value: a caller's value may be private). */
export interface ParamHeaderProblem {
  /** The full header name, `Mcp-Param-NAME`. */
  readonly header: string;
  readonly reason: 'missing' | 'encoding' | 'mismatch';
}

/** JSON-RPC error code of a header that disagrees with the body (2026-07-28). */
export const HEADER_MISMATCH = -32020;

const PREFIX = 'Mcp-Param-';
const BASE64_OPEN = '=?base64?';
const BASE64_CLOSE = '?=';
const DECIMAL = /^-?\d+(\.\d+)?$/;
/** RFC 9110 §5.1 `token`: what a header name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The `x-mcp-header` declarations of `schema`: only on properties reached from the root through
 * `properties` alone (the spec's static reachability), with a valid header name; anything else
 * declares nothing here.
 */
export function paramHeadersOf(schema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const visit = (node: unknown, path: readonly string[]) => {
    if (!isRecord(node)) return;
    const name = node['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && TOKEN.test(name)) {
      found.push({ path, name, numeric: node.type === 'integer' || node.type === 'number' });
    }
    if (!isRecord(node.properties)) return;
    for (const [key, child] of Object.entries(node.properties)) visit(child, [...path, key]);
  };
  visit(schema, []);
  return found;
}

/**
 * The first of `declared` whose header does not carry the value of `args` (`headers`: node's,
 * lower-case names). A parameter absent from the body or `null` needs no header (one sent is
 * ignored); a value that is no string, finite number or boolean is left to the tool's own
 * validation.
 */
export function checkParamHeaders(
  declared: readonly ParamHeader[],
  args: unknown,
  headers: IncomingHttpHeaders,
): ParamHeaderProblem | undefined {
  for (const param of declared) {
    const value = valueAt(args, param.path);
    const expected = asHeaderText(value);
    if (expected === undefined) continue;
    const header = `${PREFIX}${param.name}`;
    const sent = headers[header.toLowerCase()];
    if (sent === undefined) return { header, reason: 'missing' };
    const decoded = decodeParamValue(Array.isArray(sent) ? sent.join(', ') : sent);
    if (decoded === undefined) return { header, reason: 'encoding' };
    if (!sameValue(decoded, expected, value, param.numeric)) return { header, reason: 'mismatch' };
  }
  return undefined;
}

/**
 * A header value as text: the UTF-8 of a `=?base64?…?=` value's payload (`undefined` when it is
 * not canonical Base64 or not UTF-8), any other value as it is (OWS around it already trimmed
 * by node).
 */
export function decodeParamValue(value: string): string | undefined {
  const wrapped =
    value.length >= BASE64_OPEN.length + BASE64_CLOSE.length &&
    value.startsWith(BASE64_OPEN) &&
    value.endsWith(BASE64_CLOSE);
  if (!wrapped) return value;
  const payload = value.slice(BASE64_OPEN.length, value.length - BASE64_CLOSE.length);
  const bytes = Buffer.from(payload, 'base64');
  // Node's decoder skips what is not Base64 and accepts missing padding: a payload is canonical
  // when encoding its bytes again gives it back.
  if (bytes.toString('base64') !== payload) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The JSON-RPC error answer of `problem` for the request `id` (HTTP 400). */
export function paramHeaderError(problem: ParamHeaderProblem, id: unknown): string {
  const what = {
    missing: 'is missing, but the body carries the parameter',
    encoding: 'carries an invalid Base64 value',
    mismatch: 'does not match the parameter in the body',
  }[problem.reason];
  return JSON.stringify({
    jsonrpc: '2.0',
    id: typeof id === 'string' || typeof id === 'number' ? id : null,
    error: {
      code: HEADER_MISMATCH,
      message: `Bad Request: the ${problem.header} header ${what}`,
      data: { mismatch: { header: problem.header, reason: problem.reason } },
    },
  });
}

function sameValue(decoded: string, expected: string, value: unknown, numeric: boolean): boolean {
  if (numeric && typeof value === 'number' && DECIMAL.test(decoded)) {
    return Number(decoded) === value;
  }
  return decoded === expected;
}

/** A body value as its header text (spec's type conversion), or `undefined`: no header due. */
function asHeaderText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!isRecord(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
