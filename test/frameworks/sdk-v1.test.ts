/**
 * The MCP SDK v1 client (`@modelcontextprotocol/sdk` 1.32.2: `Client` +
 * `StreamableHTTPClientTransport`) on a server protected by OAuth, through `createAgentAuth`: the
 * recipe of `docs/frameworks.md` (`examples/frameworks/sdk-v1.ts`, the transport given the
 * server's `fetch`; `connect(name)` gives a v2 client, see `sdk-v2.test.ts`). The cases of
 * `sdk-cases.ts`: log in before connecting, list and call tools, refresh in the same session, step
 * up to `mcp:admin` inside one `callTool`, an end user signing in as themself.
 */
import { expect, test } from 'vitest';
import { connectSdkV1 } from '../../examples/frameworks/sdk-v1.js';
import { recipe } from './protected-server.js';
import { describeSdkClient } from './sdk-cases.js';

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('sdk-v1.ts');
  expect(inDocs).toBe(example);
});

describeSdkClient('SDK v1 with the server’s fetch (the recipe)', connectSdkV1);
