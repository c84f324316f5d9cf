/**
 * Redirects of `CredentialProfiles.fetch` (API keys, bearer tokens, Basic) between a stand-in API
 * on a loopback port and a second one on another port: a redirect to another path of a listed
 * host is followed with the credential applied again, one to another origin is not (a USAGE
 * error; the other origin records nothing, and a query key never reaches it), 303 and
 * 301/302-after-POST become a GET without the body, and a loop ends after 5 redirects.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { FetchLike } from '../../src/fetch.js';
import {
  API_KEY,
  basicHeader,
  everyForm,
  failure,
  leaks,
  openProfiles,
  PASSWORD,
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

describe('redirects', () => {
  test('to another origin: not followed, a USAGE error; the other origin records nothing', async () => {
    api.route('/start', redirect(302, `${other.origin}/landing`));
    const { credentials, sent } = open();
    for (const name of ['weather', 'github', 'jira']) {
      const error = await failure(credentials.fetch(name, `${api.origin}/start`));
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain(`not to ${other.host}`);
      expect(leaks(everyForm(error))).toEqual([]);
    }
    expect(other.requests).toHaveLength(0);
    expect(api.requests).toHaveLength(3);
    expect(sent.map((request) => new URL(request.url).host)).toEqual([
      api.host,
      api.host,
      api.host,
    ]);
  });

  test.each([301, 302, 303, 307, 308])('%i to another origin is not followed', async (status) => {
    api.route('/moved', redirect(status, `${other.origin}/landing`));
    const { credentials } = open();
    const error = await failure(credentials.fetch('github', `${api.origin}/moved`));
    expect(error.code).toBe('USAGE');
    expect(other.requests).toHaveLength(0);
  });

  test("the caller's redirect: 'follow' does not make fetch follow another origin", async () => {
    api.route('/start', redirect(302, `${other.origin}/landing`));
    const { credentials } = open(standard(), fetch);
    const error = await failure(
      credentials.fetch('github', `${api.origin}/start`, { redirect: 'follow' }),
    );
    expect(error.code).toBe('USAGE');
    expect(other.requests).toHaveLength(0);
  });

  test('https → http on a listed non-loopback host (a downgrade): not followed', async () => {
    const seen: string[] = [];
    const offline: FetchLike = async (input, init) => {
      seen.push(`${String(input)} ${new Headers(init?.headers).get('authorization')}`);
      return new Response(null, {
        status: 302,
        headers: { location: 'http://api.example.com/plain' },
      });
    };
    const { credentials } = open(
      { remote: { type: 'bearer', token: TOKEN, hosts: ['api.example.com'] } },
      offline,
    );
    const error = await failure(credentials.fetch('remote', 'https://api.example.com/secure'));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('https only');
    expect(seen).toEqual([`https://api.example.com/secure Bearer ${TOKEN}`]);
    expect(leaks(everyForm(error))).toEqual([]);
  });

  test('a query api_key is not leaked to the other host of a redirect, nor in the error', async () => {
    // The API echoes the query string (with the key) into the Location of another origin.
    api.route('/start', (request, res) => {
      const query = new URL(request.url, api.origin).search;
      res.writeHead(302, { location: `${other.origin}/landing${query}` }).end();
    });
    const { credentials } = open();
    const error = await failure(
      credentials.fetch('weather_query', `${api.origin}/start?city=Oslo`),
    );
    expect(error.code).toBe('USAGE');
    expect(new URL(api.requests[0]?.url ?? '', api.origin).searchParams.get('appid')).toBe(API_KEY);
    expect(other.requests).toHaveLength(0);
    expect(leaks(everyForm(error))).toEqual([]);
  });

  test('to another path on the listed host: followed, the credential applied again', async () => {
    api.route('/start', redirect(302, '/next'));
    api.route('/next', (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('arrived');
    });
    const { credentials } = open();
    for (const name of ['weather', 'weather_header', 'github', 'jira']) {
      const response = await credentials.fetch(name, `${api.origin}/start`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('arrived');
    }
    expect(api.requests.map((request) => request.url)).toEqual([
      '/start',
      '/next',
      '/start',
      '/next',
      '/start',
      '/next',
      '/start',
      '/next',
    ]);
    const next = api.requests.filter((request) => request.url === '/next');
    expect(next[0]?.headers['x-api-key']).toBe(API_KEY);
    expect(next[1]?.headers['x-weather-key']).toBe(API_KEY);
    expect(next[2]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(next[3]?.headers.authorization).toBe(basicHeader('svc-bot', PASSWORD));
    expect(other.requests).toHaveLength(0);
  });

  test('a query api_key is applied again (once) after a same-host redirect', async () => {
    // The Location echoes the key: it must be there once, not twice.
    api.route('/start', (request, res) => {
      const query = new URL(request.url, api.origin).search;
      res.writeHead(301, { location: `/page2${query}&page=2` }).end();
    });
    const { credentials } = open();
    const response = await credentials.fetch('weather_query', `${api.origin}/start?city=Oslo`);
    expect(response.status).toBe(200);
    const second = new URL(api.requests[1]?.url ?? '', api.origin);
    expect(second.pathname).toBe('/page2');
    expect(second.searchParams.getAll('appid')).toEqual([API_KEY]);
    expect(second.searchParams.get('page')).toBe('2');
  });

  test('to another listed host: followed with the credential', async () => {
    api.route('/start', redirect(307, `${other.origin}/mirror`));
    const { credentials } = open({
      both: { type: 'bearer', token: TOKEN, hosts: [api.host, other.host] },
    });
    const response = await credentials.fetch('both', `${api.origin}/start`);
    expect(response.status).toBe(200);
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]?.url).toBe('/mirror');
    expect(other.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('303 after a POST: a GET without the body (the body of init is sent along, fetch throws)', async () => {
    api.route('/submit', redirect(303, '/result'));
    // Node's own fetch, so the failure is what an app sees.
    const { credentials } = open(standard(), fetch);
    await credentials.fetch('github', `${api.origin}/submit`, {
      method: 'POST',
      body: 'payload=1',
    });
    expect(api.requests.map((request) => [request.method, request.url, request.body])).toEqual([
      ['POST', '/submit', 'payload=1'],
      ['GET', '/result', ''],
    ]);
    expect(api.requests[1]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('307 and 308 after a POST keep POST and the body', async () => {
    api.route('/p307', redirect(307, '/result'));
    api.route('/p308', redirect(308, '/result'));
    const { credentials } = open(standard(), fetch);
    for (const path of ['/p307', '/p308']) {
      await credentials.fetch('github', `${api.origin}${path}`, { method: 'POST', body: 'b=2' });
    }
    const results = api.requests.filter((request) => request.url === '/result');
    expect(results.map((request) => [request.method, request.body])).toEqual([
      ['POST', 'b=2'],
      ['POST', 'b=2'],
    ]);
    expect(results[1]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('301 and 302 after a POST: a GET without the body (fetch throws instead)', async () => {
    api.route('/p301', redirect(301, '/result'));
    api.route('/p302', redirect(302, '/result'));
    const { credentials } = open(standard(), fetch);
    for (const path of ['/p301', '/p302']) {
      await credentials.fetch('github', `${api.origin}${path}`, { method: 'POST', body: 'b=2' });
    }
    const results = api.requests.filter((request) => request.url === '/result');
    expect(results.map((request) => [request.method, request.body])).toEqual([
      ['GET', ''],
      ['GET', ''],
    ]);
  });

  test('303 after a GET: a GET to the new location with the credential', async () => {
    api.route('/see', redirect(303, '/other'));
    const { credentials } = open(standard(), fetch);
    const response = await credentials.fetch('jira', `${api.origin}/see`);
    expect(response.status).toBe(200);
    expect(api.requests[1]?.url).toBe('/other');
    expect(api.requests[1]?.headers.authorization).toBe(basicHeader('svc-bot', PASSWORD));
  });

  test('302 after a lowercase "post" is not turned into a GET (fetch normalises the method)', async () => {
    api.route('/p302', redirect(302, '/result'));
    const { credentials } = open(standard(), fetch);
    await credentials.fetch('github', `${api.origin}/p302`, { method: 'post', body: 'b=3' });
    expect(api.requests[0]?.method).toBe('POST');
    // What fetch itself does for a POST (any case) answered with 302: GET, no body.
    const result = api.requests[1];
    expect([result?.method, result?.body]).toEqual(['GET', '']);
  });

  test('a 3xx without Location is returned as it is', async () => {
    api.route('/choices', (_request, res) => {
      res.writeHead(300, { 'content-type': 'text/plain' }).end('pick one');
    });
    const { credentials } = open();
    const response = await credentials.fetch('github', `${api.origin}/choices`);
    expect(response.status).toBe(300);
    expect(await response.text()).toBe('pick one');
  });

  test('a loop on the listed host: 6 requests (5 redirects), then USAGE', async () => {
    api.route('/loop', redirect(302, '/loop'));
    const { credentials } = open();
    const error = await failure(credentials.fetch('weather', `${api.origin}/loop`));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('Too many redirects for credential "weather"');
    expect(api.requests).toHaveLength(6);
    expect(leaks(everyForm(error))).toEqual([]);
  });
});
