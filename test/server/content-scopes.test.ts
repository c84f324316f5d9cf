/**
 * `authorization.prompt_scopes` and `resource_scopes` (issue 15, item 4): which scopes a prompt,
 * resource or completion request needs, from its parameters alone.
 */
import { describe, expect, test } from 'vitest';
import { contentScopes } from '../../src/server/content-scopes.js';

const scopesOf = contentScopes(
  { 'ev_args-prompt': ['prompts:args'] },
  {
    'demo://doc/a.md': ['docs:a'],
    'demo://blob/{id}': ['blobs'],
    'file:///{+path}': ['files'],
    'file:///etc/{name}': ['etc'],
  },
);

describe('contentScopes', () => {
  test('a prompt by its exact served name, for prompts/get and its completions', () => {
    expect(scopesOf('prompts/get', { name: 'ev_args-prompt' })).toEqual(['prompts:args']);
    expect(
      scopesOf('completion/complete', { ref: { type: 'ref/prompt', name: 'ev_args-prompt' } }),
    ).toEqual(['prompts:args']);
    for (const name of ['ev_args_prompt', 'EV_ARGS-PROMPT', 'args-prompt', 'constructor']) {
      expect(scopesOf('prompts/get', { name })).toEqual([]);
    }
  });

  test('a resource by exact URI or by every template key matching it, for read and subscribe', () => {
    expect(scopesOf('resources/read', { uri: 'demo://doc/a.md' })).toEqual(['docs:a']);
    expect(scopesOf('resources/subscribe', { uri: 'demo://blob/7' })).toEqual(['blobs']);
    expect(scopesOf('resources/read', { uri: 'demo://blob/7/x' })).toEqual([]);
    expect(scopesOf('resources/read', { uri: 'file:///etc/passwd' })).toEqual(['files', 'etc']);
    expect(scopesOf('resources/read', { uri: 'demo://doc/b.md' })).toEqual([]);
    expect(
      scopesOf('completion/complete', { ref: { type: 'ref/resource', uri: 'demo://blob/{id}' } }),
    ).toEqual(['blobs']);
  });

  test('other methods and malformed parameters need nothing more (the request fails later)', () => {
    expect(scopesOf('resources/list', {})).toEqual([]);
    expect(scopesOf('resources/read', { uri: 3 })).toEqual([]);
    expect(scopesOf('prompts/get', null)).toEqual([]);
    expect(scopesOf('completion/complete', { ref: 'x' })).toEqual([]);
  });
});
