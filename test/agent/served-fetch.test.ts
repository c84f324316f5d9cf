/**
 * A served agent's model requests go through the app's `fetch` (its HTTP stack: the proxy
 * settings) whatever the provider passes: a URL, or a `Request` (issue 17 review, L5).
 */
import { afterEach, expect, test, vi } from 'vitest';
import { modelFetch } from '../../src/app/served-agent.js';
import type { FetchLike } from '../../src/fetch.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** An app `fetch` that records what it is asked and answers 200 `ok`. */
function recordingFetch() {
  const asked: { url: string; method: string; body: string; header: string | null }[] = [];
  const appFetch: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    asked.push({
      url: request.url,
      method: request.method,
      body: await request.text(),
      header: request.headers.get('x-key'),
    });
    return new Response('ok');
  };
  return { asked, appFetch };
}

test.each([
  ['a Request', () => new Request('http://model.test/v1/chat', init())],
  ['a URL string', () => 'http://model.test/v1/chat'],
])('%s goes through the app fetch, never the global one, after `before`', async (_, input) => {
  const global = vi.spyOn(globalThis, 'fetch');
  const { asked, appFetch } = recordingFetch();
  const steps: string[] = [];
  const fetch = modelFetch(appFetch, async () => {
    steps.push('before');
  });
  const request = input();
  const response = await fetch(request, typeof request === 'string' ? init() : undefined);
  expect(await response.text()).toBe('ok');
  expect(global).not.toHaveBeenCalled();
  expect(steps).toEqual(['before']);
  expect(asked).toEqual([
    { url: 'http://model.test/v1/chat', method: 'POST', body: '{"q":1}', header: 'canary' },
  ]);
});

function init(): RequestInit {
  return { method: 'POST', headers: { 'x-key': 'canary' }, body: '{"q":1}' };
}
