/**
 * The five middleware adapters as the tests start them: each is the recipe of docs/middleware.md
 * (`examples/middleware/<framework>.ts`, the real framework in front of the real SDK server), plus
 * `serve` (`createApp`) with the same tools and `authorization:` section, to show the adapters
 * are not weaker than it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { startExpress } from '../../examples/middleware/express.js';
import { startFastify } from '../../examples/middleware/fastify.js';
import { startHono } from '../../examples/middleware/hono.js';
import { startNode } from '../../examples/middleware/node.js';
import { statelessHandler } from '../../examples/middleware/server-v2.js';
import { startWeb } from '../../examples/middleware/web.js';
import { createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  createMcpAuth,
  loopbackHostCheck,
  type McpAuth,
  type McpAuthOptions,
} from '../../src/middleware/index.js';
import { withMcpAuth } from '../../src/middleware/node.js';

const modules = new URL('../../node_modules/', import.meta.url);
/** The installed version of package `name`. */
const version = (name: string): string =>
  (
    JSON.parse(readFileSync(new URL(`${name}/package.json`, modules), 'utf8')) as {
      version: string;
    }
  ).version;

/** A protected server on a port, as a test starts it. */
export interface Started {
  /** The protection (absent for `serve`). */
  readonly auth?: McpAuth;
  close(): Promise<void>;
}

/** One way of protecting the server. */
export interface Adapter {
  readonly name: 'express' | 'hono' | 'fastify' | 'node' | 'node-v2' | 'web' | 'serve';
  /** The framework and SDK server, with their versions. */
  readonly stack: string;
  /** Whether the SDK server behind it keeps sessions (`Mcp-Session-Id`). */
  readonly sessions: boolean;
  /** The SDK client generation the login test uses. */
  readonly client: 'v1' | 'v2';
  start(options: McpAuthOptions, port: number): Promise<Started>;
}

const v1 = `@modelcontextprotocol/sdk ${version('@modelcontextprotocol/sdk')}`;
const v2 = `@modelcontextprotocol/server ${version('@modelcontextprotocol/server')}`;

/** What a recipe returns: the protection, the SDK server's handler, and the listening server. */
interface Recipe {
  readonly auth: McpAuth;
  readonly mcp: { close(): Promise<void> };
  readonly server: { closeAllConnections?(): void; close(done: () => void): unknown };
}

/** A recipe's start, with the shutdown the tests need: connections, server, handler, protection. */
function recipe(start: (options: McpAuthOptions, port: number) => Promise<Recipe>) {
  return async (options: McpAuthOptions, port: number): Promise<Started> => {
    const { auth, mcp, server } = await start(options, port);
    return {
      auth,
      async close() {
        server.closeAllConnections?.();
        await new Promise<void>((closed) => server.close(() => closed()));
        await mcp.close();
        await auth.close();
      },
    };
  };
}

/**
 * The node:http adapter in front of the SDK v2's own Node face: `createMcpHandler` through
 * `toNodeHandler` (`@modelcontextprotocol/node`), which reads the caller from `req.auth`.
 */
async function startNodeV2(options: McpAuthOptions, port: number): Promise<Recipe> {
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = statelessHandler();
  const node = toNodeHandler(mcp);
  // Its request type has `method?: string`, node:http's `string | undefined`: the same at run
  // time, two types under exactOptionalPropertyTypes.
  const server = createServer(withMcpAuth(auth, (req, res, body) => node(req as never, res, body)));
  await new Promise<void>((listening) => server.listen(port, '127.0.0.1', listening));
  return { auth, mcp, server };
}

/** `serve`: `createApp` with the section and the same three tools, listening on loopback. */
async function startServe(options: McpAuthOptions, port: number): Promise<Started> {
  const settings = settingsSchema.parse({
    name: 'served-parity',
    authorization: { enabled: true, ...options.authorization },
  });
  const app = await createApp({
    settings,
    env: {},
    ...(options.now ? { now: options.now } : {}),
    setup: (builder) => {
      builder.useCallerContext();
      builder.tool('whoami', {}, (_args, { caller }) =>
        JSON.stringify({ subject: caller?.subject ?? null, fromAuthInfo: caller?.subject ?? null }),
      );
      builder.tool('add', {}, () => 'ok');
      builder.tool(
        'admin_report',
        {},
        (_args, { caller }) => `Report for ${caller?.subject}: all good.`,
      );
    },
  });
  const running = await app.listen({ host: '127.0.0.1', port });
  return {
    async close() {
      await running.close();
      await app.close();
    },
  };
}

/** Every adapter, by name. */
export const ADAPTERS = {
  express: {
    name: 'express',
    stack: `express ${version('express')} + ${v1} StreamableHTTPServerTransport`,
    sessions: true,
    client: 'v2',
    start: recipe(startExpress),
  },
  hono: {
    name: 'hono',
    stack: `hono ${version('hono')} + @hono/node-server ${version('@hono/node-server')} + ${v2} createMcpHandler`,
    sessions: false,
    client: 'v2',
    start: recipe(startHono),
  },
  fastify: {
    name: 'fastify',
    stack: `fastify ${version('fastify')} + ${v1} StreamableHTTPServerTransport`,
    sessions: true,
    client: 'v2',
    start: recipe(startFastify),
  },
  node: {
    name: 'node',
    stack: `node:http ${process.version} + ${v1} StreamableHTTPServerTransport`,
    sessions: true,
    client: 'v1',
    start: recipe(startNode),
  },
  'node-v2': {
    name: 'node-v2',
    stack: `node:http ${process.version} + @modelcontextprotocol/node ${version('@modelcontextprotocol/node')} toNodeHandler + ${v2} createMcpHandler`,
    sessions: false,
    client: 'v2',
    start: recipe(startNodeV2),
  },
  web: {
    name: 'web',
    stack: `(Request) => Response on @hono/node-server ${version('@hono/node-server')} + ${v2} WebStandardStreamableHTTPServerTransport`,
    sessions: true,
    client: 'v2',
    start: recipe(startWeb),
  },
  serve: {
    name: 'serve',
    stack: 'serve (createApp)',
    sessions: true,
    client: 'v2',
    start: startServe,
  },
} as const satisfies Record<Adapter['name'], Adapter>;
