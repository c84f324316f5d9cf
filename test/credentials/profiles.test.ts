/**
 * Named credentials (`credentials:`) for any HTTP API: `CredentialProfiles.fetch` with API keys
 * (a header or a query parameter), bearer tokens and HTTP Basic, against a real stand-in API on
 * a loopback port and a second one on another port (another origin). Each credential arrives
 * exactly as configured at a listed host, and never at another: a request to an unlisted host,
 * or over plain http to a non-loopback host, is refused before anything is sent, and a redirect
 * to another origin is not followed (redirects: redirects.test.ts). OAuth 2.0 profiles:
 * oauth2.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CredentialProfiles } from '../../src/credentials/profiles.js';
import type { FetchLike } from '../../src/fetch.js';
import {
  API_KEY,
  basicHeader,
  everyForm,
  failure,
  leaks,
  openProfiles,
  PASSWORD,
  profiles,
  redirect,
  type StandIn,
  standardProfiles,
  startStandIn,
  TOKEN,
} from './harness.js';

let api: StandIn;
let other: StandIn;

beforeAll(async () => {
  api = await startStandIn('api');
  other = await startStandIn('other');
});

afterEach(() => {
  api.requests.length = 0;
  other.requests.length = 0;
});

afterAll(async () => {
  await api?.close();
  await other?.close();
});

const standard = () => standardProfiles(api.host);
const open = (raw: Record<string, unknown> = standard(), through?: FetchLike) =>
  openProfiles(raw, through);

describe('each credential arrives exactly as configured at a listed host', () => {
  test('api_key: the X-Api-Key header by default, nothing in the query', async () => {
    const { credentials } = open();
    const response = await credentials.fetch('weather', `${api.origin}/v1/forecast?city=Oslo`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ server: 'api', method: 'GET', path: '/v1/forecast' });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.headers['x-api-key']).toBe(API_KEY);
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
    expect(api.requests[0]?.url).toBe('/v1/forecast?city=Oslo');
  });

  test('api_key with header: that header only', async () => {
    const { credentials } = open();
    await credentials.fetch('weather_header', `${api.origin}/v1`);
    expect(api.requests[0]?.headers['x-weather-key']).toBe(API_KEY);
    expect(api.requests[0]?.headers['x-api-key']).toBeUndefined();
  });

  test('api_key with query: that parameter (other parameters kept), no header', async () => {
    const { credentials } = open();
    await credentials.fetch('weather_query', `${api.origin}/v1/forecast?city=Oslo&units=metric`);
    const url = new URL(api.requests[0]?.url ?? '', api.origin);
    expect(url.searchParams.getAll('appid')).toEqual([API_KEY]);
    expect(url.searchParams.get('city')).toBe('Oslo');
    expect(url.searchParams.get('units')).toBe('metric');
    expect(api.requests[0]?.headers['x-api-key']).toBeUndefined();
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
  });

  test('api_key with query: a value the caller already put there is replaced, not doubled', async () => {
    const { credentials } = open();
    await credentials.fetch('weather_query', `${api.origin}/v1?appid=mine`);
    const url = new URL(api.requests[0]?.url ?? '', api.origin);
    expect(url.searchParams.getAll('appid')).toEqual([API_KEY]);
  });

  test('bearer: Authorization: Bearer <token>', async () => {
    const { credentials } = open();
    await credentials.fetch('github', `${api.origin}/user`);
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('bearer: replaces an Authorization header the caller passed', async () => {
    const { credentials } = open();
    await credentials.fetch('github', `${api.origin}/user`, {
      headers: { authorization: 'Bearer from-the-caller' },
    });
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('basic: Authorization: Basic base64(username:password)', async () => {
    const { credentials } = open();
    await credentials.fetch('jira', `${api.origin}/rest/api/2/myself`);
    const header = api.requests[0]?.headers.authorization ?? '';
    expect(header).toBe(basicHeader('svc-bot', PASSWORD));
    expect(Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8')).toBe(
      `svc-bot:${PASSWORD}`,
    );
  });

  test('basic: a non-ASCII password is encoded as UTF-8', async () => {
    const { credentials } = open({
      jira: { type: 'basic', username: 'åse', password: 'pässwörd€', hosts: [api.host] },
    });
    await credentials.fetch('jira', `${api.origin}/`);
    expect(api.requests[0]?.headers.authorization).toBe(basicHeader('åse', 'pässwörd€'));
  });

  test('basic without a password: the username and an empty password', async () => {
    const { credentials } = open({
      stripe: { type: 'basic', username: 'sk_test_user', hosts: [api.host] },
    });
    await credentials.fetch('stripe', `${api.origin}/`);
    expect(api.requests[0]?.headers.authorization).toBe(basicHeader('sk_test_user', ''));
  });

  test("the caller's method, headers and body go along", async () => {
    const { credentials } = open();
    const response = await credentials.fetch('github', `${api.origin}/issues`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ title: 'hello' }),
    });
    expect(response.status).toBe(200);
    const request = api.requests[0];
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.accept).toBe('application/json');
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(request?.body ?? '')).toEqual({ title: 'hello' });
  });

  test('a URL object works as well as a string', async () => {
    const { credentials } = open();
    await credentials.fetch('weather', new URL('/v2', api.origin));
    expect(api.requests[0]?.url).toBe('/v2');
    expect(api.requests[0]?.headers['x-api-key']).toBe(API_KEY);
  });

  test('a host listed without a port allows every port of that host', async () => {
    const { credentials } = open({
      any_port: { type: 'bearer', token: TOKEN, hosts: ['127.0.0.1'] },
    });
    await credentials.fetch('any_port', `${api.origin}/a`);
    await credentials.fetch('any_port', `${other.origin}/b`);
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(other.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('localhost is loopback too (http allowed)', async () => {
    const port = new URL(api.origin).port;
    const { credentials } = open({
      local: { type: 'bearer', token: TOKEN, hosts: [`localhost:${port}`] },
    });
    await credentials.fetch('local', `http://localhost:${port}/x`);
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('https to a listed non-loopback host is passed to fetch with the credential', async () => {
    const seen: { url: string; headers: Headers }[] = [];
    const offline: FetchLike = async (input, init) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers) });
      return new Response('ok', { status: 200 });
    };
    const credentials = new CredentialProfiles(
      profiles({ remote: { type: 'api_key', api_key: API_KEY, hosts: ['api.example.com'] } }),
      { fetch: offline },
    );
    const response = await credentials.fetch('remote', 'https://API.example.com/v1');
    expect(await response.text()).toBe('ok');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('https://api.example.com/v1');
    expect(seen[0]?.headers.get('x-api-key')).toBe(API_KEY);
  });
});

describe('refused before anything is sent', () => {
  test.each(['weather', 'weather_header', 'weather_query', 'github', 'jira'])(
    '%s to a host outside its list: USAGE, and the other origin records nothing',
    async (name) => {
      const { credentials, sent } = open();
      const error = await failure(credentials.fetch(name, `${other.origin}/steal?x=1`));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain(`Credential "${name}" may be sent to ${api.host} only`);
      expect(error.message).toContain(`not to ${other.host}`);
      expect(error.message).toContain('nothing was sent');
      expect(leaks(everyForm(error))).toEqual([]);
      expect(other.requests).toHaveLength(0);
      expect(api.requests).toHaveLength(0);
      expect(sent).toHaveLength(0);
    },
  );

  test('the same host name on another port is another origin', async () => {
    const { credentials } = open();
    const port = new URL(other.origin).port;
    const error = await failure(credentials.fetch('github', `http://127.0.0.1:${port}/`));
    expect(error.code).toBe('USAGE');
    expect(other.requests).toHaveLength(0);
  });

  test('a host that merely ends with a listed one is refused', async () => {
    const { credentials, sent } = open({
      remote: { type: 'bearer', token: TOKEN, hosts: ['api.example.com'] },
    });
    for (const url of [
      'https://evil-api.example.com/',
      'https://api.example.com.evil.test/',
      'https://example.com/',
    ]) {
      const error = await failure(credentials.fetch('remote', url));
      expect(error.code).toBe('USAGE');
    }
    expect(sent).toHaveLength(0);
  });

  test('userinfo in the URL does not change the host that is checked', async () => {
    const { credentials } = open();
    const error = await failure(credentials.fetch('github', `http://${api.host}@${other.host}/`));
    expect(error.code).toBe('USAGE');
    expect(other.requests).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
  });

  test('plain http to a listed non-loopback host: USAGE, nothing passed to fetch', async () => {
    const { credentials, sent } = open({
      remote: { type: 'api_key', api_key: API_KEY, hosts: ['api.example.com'] },
      remote_query: { type: 'api_key', api_key: API_KEY, query: 'key', hosts: ['api.example.com'] },
    });
    for (const name of ['remote', 'remote_query']) {
      const error = await failure(credentials.fetch(name, 'http://api.example.com/v1'));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain('https only');
      expect(error.message).toContain('nothing was sent to http://api.example.com');
      expect(leaks(everyForm(error))).toEqual([]);
    }
    expect(sent).toHaveLength(0);
  });

  test('other schemes are refused even on loopback', async () => {
    const { credentials, sent } = open();
    const error = await failure(credentials.fetch('github', `ws://${api.host}/`));
    expect(error.code).toBe('USAGE');
    expect(sent).toHaveLength(0);
  });
});

describe('errors', () => {
  test('an unknown profile: CONFIG_INVALID naming the configured ones; nothing sent', async () => {
    const { credentials, sent } = open();
    const error = await failure(credentials.fetch('weathr', `${api.origin}/`));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('No credential profile "weathr"');
    expect(error.message).toContain(
      'configured: weather, weather_header, weather_query, github, jira',
    );
    const viaToken = await failure(credentials.token('weathr'));
    expect(viaToken.code).toBe('CONFIG_INVALID');
    expect(sent).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
  });

  test('an unknown profile with none configured says none', async () => {
    const credentials = new CredentialProfiles({}, { fetch });
    expect(credentials.names()).toEqual([]);
    const error = await failure(credentials.fetch('weather', `${api.origin}/`));
    expect(error.message).toContain('(configured: none)');
  });

  test('names inherited from Object.prototype are not profiles', async () => {
    const { credentials } = open();
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const error = await failure(credentials.fetch(name, `${api.origin}/`));
      expect(error.code).toBe('CONFIG_INVALID');
    }
    expect(api.requests).toHaveLength(0);
  });

  test('a missing api_key or token: CONFIG_INVALID, nothing sent', async () => {
    const { credentials, sent } = open({
      no_key: { type: 'api_key', hosts: [api.host] },
      empty_key: { type: 'api_key', api_key: '', hosts: [api.host] },
      null_key: { type: 'api_key', api_key: null, query: 'k', hosts: [api.host] },
      no_token: { type: 'bearer', hosts: [api.host] },
    });
    for (const [name, key] of [
      ['no_key', 'api_key'],
      ['empty_key', 'api_key'],
      ['null_key', 'api_key'],
      ['no_token', 'token'],
    ] as const) {
      const error = await failure(credentials.fetch(name, `${api.origin}/`));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toBe(`Credential "${name}" has no ${key}.`);
    }
    const viaToken = await failure(credentials.token('no_token'));
    expect(viaToken.code).toBe('CONFIG_INVALID');
    expect(sent).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
  });

  test('token(): a bearer profile gives its token as a Secret; api_key and basic are USAGE', async () => {
    const { credentials, sent } = open();
    const token = await credentials.token('github');
    expect(token.reveal()).toBe(TOKEN);
    expect(String(token)).toBe('[redacted]');
    expect(JSON.stringify({ token })).not.toContain(TOKEN);
    for (const [name, type] of [
      ['weather', 'api_key'],
      ['jira', 'basic'],
    ] as const) {
      const error = await failure(credentials.token(name));
      expect(error.code).toBe('USAGE');
      expect(error.message).toBe(`Credential "${name}" is ${type}, not a token.`);
      expect(leaks(everyForm(error))).toEqual([]);
    }
    expect(sent).toHaveLength(0);
  });

  test('canary: no secret in any error this module throws', async () => {
    api.route('/away', redirect(302, `${other.origin}/`));
    api.route('/loop', redirect(307, '/loop'));
    const { credentials } = open();
    const attempts: Promise<unknown>[] = [];
    for (const name of ['weather', 'weather_header', 'weather_query', 'github', 'jira']) {
      attempts.push(
        credentials.fetch(name, `${other.origin}/?appid=${API_KEY}`),
        credentials.fetch(name, `https://${other.host}/`),
        credentials.fetch(name, `${api.origin}/away`),
        credentials.fetch(name, `${api.origin}/loop`),
        credentials.token(name),
      );
    }
    attempts.push(credentials.fetch('nope', api.origin));
    const settled = await Promise.allSettled(attempts);
    const errors = settled.flatMap((result) =>
      result.status === 'rejected' ? [result.reason as unknown] : [],
    );
    // token('github') resolves; everything else fails.
    expect(errors).toHaveLength(attempts.length - 1);
    for (const error of errors) {
      // The first attempt of each profile names the key in its own URL; the message names hosts only.
      expect(leaks(everyForm(error))).toEqual([]);
    }
    expect(other.requests).toHaveLength(0);
  });

  test('an api_key or token with a line break inside is echoed in the thrown error', async () => {
    // A key pasted across two lines (a YAML block scalar, a variable with a newline): Headers
    // refuses it, and undici's TypeError quotes the whole value.
    const { credentials, sent } = open({
      pasted: { type: 'api_key', api_key: `${API_KEY}\nsecond-line`, hosts: [api.host] },
      pasted_token: { type: 'bearer', token: `${TOKEN}\rmore`, hosts: [api.host] },
    });
    for (const name of ['pasted', 'pasted_token']) {
      const error = await credentials.fetch(name, `${api.origin}/`).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(Error);
      expect(leaks(everyForm(error))).toEqual([]);
    }
    expect(sent).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
  });
});
