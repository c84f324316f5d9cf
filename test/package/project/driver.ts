/**
 * The driver test/package/install.test.ts runs in a fresh project where the packed tarball is
 * installed, next to the recipes of the docs copied as they are (`node.ts` and `server-v1.ts` of
 * docs/middleware.md, `sdk-v1.ts` of docs/frameworks.md) and `browser.ts`, the tests' headless
 * browser standing in for the person. Every import of this package is by its name, so it is the
 * installed one: the development authorization server (`mcp-agent-ts/dev`, its sign-in approved
 * automatically as alice), the SDK v1 server protected on node:http (`/middleware`, `/node`),
 * `createAgentAuth` (`/client`) logging in through the browser and the loopback receiver, and the
 * SDK v1 client of the recipe listing the tools and calling `whoami` and `add`.
 *
 * `node --import tsx driver.ts PORT CALLBACK_PORT`: prints one JSON line (never a token).
 * Not part of the repository's own type-check (tsconfig.json excludes this folder): the fresh
 * project's `tsc` checks it against the installed package's types.
 */
import { createAgentAuth, interactiveConsent } from 'mcp-agent-ts/client';
import { startDevAuthorizationServer } from 'mcp-agent-ts/dev';
import { loopbackHostCheck } from 'mcp-agent-ts/middleware';
import { followAuthorization } from './browser.js';
import { startNode } from './node.js';
import { connectSdkV1 } from './sdk-v1.js';

const [port, callbackPort] = process.argv.slice(2).map(Number);
if (!port || !callbackPort) throw new Error('usage: driver.ts PORT CALLBACK_PORT');
const resource = `http://127.0.0.1:${port}/mcp`;

const as = await startDevAuthorizationServer({
  port: 0,
  resources: [resource],
  defaultResource: resource,
  scopes: ['mcp:tools'],
  autoApprove: true,
  devUser: 'alice',
});
const protectedServer = await startNode(
  {
    authorization: {
      issuer_url: as.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: ['mcp:tools'],
      resource_name: 'Existing server',
    },
    hostCheck: loopbackHostCheck(port),
  },
  port,
);

const shown: string[] = [];
const browsed: Promise<unknown>[] = [];
const agent = createAgentAuth({
  settings: {
    mcp: {
      servers: {
        existing: {
          transport: 'streamable_http',
          url: resource,
          auth: { oauth: { enabled: true } },
        },
      },
    },
    oauth: { loopback_ports: [callbackPort] },
  },
  consent: interactiveConsent({
    output: { write: (text: string) => shown.push(text) },
    openBrowser: async (url) => {
      browsed.push(followAuthorization(url));
      return true;
    },
  }),
});

try {
  const client = await connectSdkV1(agent, 'existing');
  const tools = await client.listTools();
  const whoami = await client.callTool({ name: 'whoami' });
  const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  await client.close();
  await Promise.all(browsed);
  const caller = JSON.parse(textOf(whoami)) as Record<string, unknown>;
  const [status] = await agent.status('existing');
  const report = JSON.stringify({
    resolved: Object.fromEntries(
      ['mcp-agent-ts', 'mcp-agent-ts/client', 'mcp-agent-ts/dev', 'mcp-agent-ts/node'].map(
        (name) => [name, import.meta.resolve(name)],
      ),
    ),
    tools: tools.tools.map((tool) => tool.name).sort(),
    whoami: { ...caller, token: typeof caller.token === 'string' ? 'held' : caller.token },
    add: textOf(add),
    status: { scopes: status?.scopes, hasRefreshToken: status?.hasRefreshToken },
    browsed: browsed.length,
    issuer: as.issuer,
    shownIssuer: shown.some((text) => text.includes(as.issuer)),
  });
  process.stdout.write(`${report}\n`);
} finally {
  await agent.close();
  await protectedServer.auth.close();
  await protectedServer.mcp.close();
  await new Promise((closed) => protectedServer.server.close(closed));
  await as.close();
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? '').join('');
}
