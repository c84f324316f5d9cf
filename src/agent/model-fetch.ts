/**
 * Where a model provider's key may travel. Every request of a provider goes through
 * {@link modelRequestFetch}: a redirect is followed within the request's origin only (the
 * providers send their key in headers of their own, `x-api-key`, `api-key`, `x-goog-api-key`,
 * which `fetch` keeps across origins), and a redirect elsewhere is an error. And
 * {@link refusePlainHttp}: a key is not configured to go over plain `http://` but to loopback.
 *
 * @module
 */
import type { Settings } from '../config/schema/settings.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { isLoopbackHost } from '../oauth/protocol/network.js';
import type { Section } from './sections.js';

/** The statuses of a redirect. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The origin `location` names, relative to `from`, or a word saying it has none. */
function originOf(location: string | null, from: URL): string {
  return location !== null && URL.canParse(location, from.href)
    ? new URL(location, from).origin
    : 'an unreadable location';
}

/** `input` and `init` as a URL and an init `fetch` can send again (a `Request`'s body read). */
async function unpacked(
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<[URL, RequestInit | undefined]> {
  if (!(input instanceof Request))
    return [new URL(input instanceof URL ? input.href : input), init];
  const body = ['GET', 'HEAD'].includes(input.method) ? undefined : await input.arrayBuffer();
  const fromRequest: RequestInit = {
    method: input.method,
    headers: input.headers,
    signal: input.signal,
    ...(body ? { body } : {}),
  };
  return [new URL(input.url), { ...fromRequest, ...init }];
}

/**
 * `fetch` for a provider's requests: each follows redirects within its own origin only (see
 * `withinOriginRedirects`); a redirect to another origin, or one it cannot follow, is a
 * `MODEL_REQUEST` error naming the status and the two origins (never the key, nor the path).
 */
export function modelRequestFetch(fetch: FetchLike): typeof globalThis.fetch {
  return async (input, init) => {
    const [url, sent] = await unpacked(input, init);
    // Imported here: the HTTP stack's module loads undici, which making a model need not.
    const { withinOriginRedirects } = await import('../servers/http.js');
    const response = await withinOriginRedirects(fetch, url)(url.href, sent);
    if (!REDIRECTS.has(response.status)) return response;
    await response.body?.cancel().catch(() => {});
    const target = originOf(response.headers.get('location'), url);
    throw new McpAgentError(
      'MODEL_REQUEST',
      `The model API at ${url.origin} answered ${response.status}, a redirect to ${target}: not followed, as the request carries the provider's key. Set the provider's base_url or endpoint to where the API is.`,
    );
  };
}

/** Where each provider's requests go (the section key naming the URL), when the section sets it. */
const ENDPOINT_KEYS: Readonly<Record<string, string>> = {
  openai: 'base_url',
  anthropic: 'base_url',
  azure: 'endpoint',
  ollama: 'base_url',
  lm_studio: 'base_url',
};

const isSet = (value: unknown): boolean =>
  value !== undefined && !(value as Secret | undefined)?.isEmpty;

/** Whether the provider section `provider` sends a key or token with its requests. */
function sendsCredential(settings: Settings, provider: string, section: Section): boolean {
  const headers = section.default_headers as Readonly<Record<string, Secret>> | undefined;
  return (
    isSet(section.api_key) ||
    isSet(section.azure_ad_token) ||
    Object.keys(headers ?? {}).length > 0 ||
    (provider === 'azure' && settings.credentials.azure !== undefined)
  );
}

/**
 * Throw `MODEL_CONFIG` when the provider section `provider` would send its key or token over plain
 * `http://` to a host other than loopback (its `base_url` or Azure's `endpoint`).
 */
export function refusePlainHttp(settings: Settings, provider: string, section: Section): void {
  const key = ENDPOINT_KEYS[provider];
  const endpoint = key === undefined ? undefined : section[key];
  if (typeof endpoint !== 'string' || !URL.canParse(endpoint)) return;
  const url = new URL(endpoint);
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return;
  if (!sendsCredential(settings, provider, section)) return;
  throw new McpAgentError(
    'MODEL_CONFIG',
    `The ${provider} provider would send its key in clear to ${url.host} (${provider}.${key} is http://): use https://, or http:// to loopback only.`,
  );
}
