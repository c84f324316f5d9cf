/**
 * `serve`: run the app as an MCP server (Streamable HTTP at `/mcp`, legacy SSE at `/sse`), and
 * `dev`: the same, protected by the embedded development authorization server, for trying the
 * whole flow with no external service.
 *
 * @module
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { createApp, type RunningApp } from '../../app/create-app.js';
import { AppDefinition } from '../../app/define.js';
import { frontSettings } from '../../app/front.js';
import { advertisedScopes } from '../../app/inbound.js';
import { loadAppModule } from '../../app/module.js';
import { MCP_PATH, originOf } from '../../app/serving.js';
import { authorizationSchema } from '../../config/schema/authorization.js';
import type { Settings } from '../../config/schema/settings.js';
import { McpAgentError } from '../../errors.js';
import { isLoopbackBind } from '../../server/host-check.js';
import { sseResourceOf } from '../../server/metadata.js';
import { inspectorCommand } from '../inspector.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { cliLogger } from '../logger.js';
import { VERSION } from '../version.js';
import { loadForCli } from './config.js';

/** Options of `serve` and `dev`. */
export interface ServeOptions {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  /** `--app`, relative to the working directory. */
  readonly app?: string | undefined;
  /** `--front NAME`: serve that configured server as it is (front mode; wins over `front:`). */
  readonly front?: string | undefined;
}

/** Options of `dev`. */
export interface DevOptions extends ServeOptions {
  readonly issuerPort?: number | undefined;
  readonly autoApprove?: boolean;
  readonly devUser?: string | undefined;
}

function untilStopped(io: CliIo): Promise<void> {
  if (io.stop) return io.stop;
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * The settings `serve` and `dev` run with: `--front` set as `front`. In front mode the fronted
 * server must be configured, and no app module may be given (it is refused before it is loaded).
 */
function settingsFor(settings: Settings, options: ServeOptions): Settings {
  const front = options.front ?? settings.front;
  if (front === undefined) return settings;
  frontSettings(settings, front);
  const app = options.app ?? settings.app;
  if (app !== undefined) {
    throw new McpAgentError(
      'USAGE',
      `front mode serves server "${front}" as it is and nothing else, but an app module is given (${options.app !== undefined ? '--app' : 'app: in the config'}: ${app}); remove it, or serve without front.`,
    );
  }
  return { ...settings, front };
}

/** What `serve` prints about what it serves, after its URL. */
function servedNote(settings: Settings): string {
  return settings.front === undefined ? '' : `, fronting server "${settings.front}"`;
}

async function definitionFor(
  io: CliIo,
  settings: Settings,
  configFile: string | undefined,
  appPath: string | undefined,
): Promise<AppDefinition> {
  const definition = new AppDefinition();
  const path = appPath ?? settings.app;
  if (path && settings.front === undefined) {
    const base = appPath ? io.cwd : configFile ? dirname(configFile) : io.cwd;
    await (await loadAppModule(path, base))(definition);
  }
  return definition;
}

async function serveUntilStopped(
  io: CliIo,
  out: Output,
  running: RunningApp,
  close: () => Promise<void>,
): Promise<number> {
  await untilStopped(io);
  out.note('Stopping.');
  await running.close();
  await close();
  return 0;
}

/** `serve [--host H] [--port P] [--app PATH]`. */
export async function serve(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  serveOptions: ServeOptions,
): Promise<number> {
  const loaded = loadForCli(io, options);
  const logger = cliLogger(out, options.verbose);
  const settings = settingsFor(loaded.settings, serveOptions);
  const definition = await definitionFor(io, settings, loaded.configFile, serveOptions.app);
  const app = await createApp({
    settings,
    definition,
    env: { ...io.env },
    logger,
    cwd: io.cwd,
    info: { name: loaded.settings.name ?? 'mcp-agent-ts', version: VERSION },
  });
  let running: RunningApp;
  try {
    running = await app.listen({
      host: serveOptions.host ?? '127.0.0.1',
      port: serveOptions.port ?? 8000,
    });
  } catch (error) {
    await app.close();
    throw listenError(error, serveOptions);
  }
  const auth = app.metadata;
  // Where it serves is the result (scripts read it from stdout); the rest goes to stderr.
  out.resultJson({
    url: running.url,
    protected: auth !== undefined,
    resource: auth?.resource ?? null,
    ...(settings.front === undefined ? {} : { front: settings.front }),
  });
  out.result(
    `Serving MCP at ${running.url}${servedNote(settings)}${auth ? ` (protected; tokens from ${auth.authorization_servers[0]})` : ' (authorization is off: anyone who can reach it may call its tools)'}`,
  );
  return serveUntilStopped(io, out, running, () => app.close());
}

/** A listen failure of the app (`--port`) or of the development server (`--issuer-port`). */
function listenError(error: unknown, options: ServeOptions, flag = '--port'): McpAgentError {
  const cause = error instanceof McpAgentError ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const where = `${options.host ?? '127.0.0.1'}:${options.port ?? 8000}`;
  return new McpAgentError(
    'USAGE',
    code === 'EADDRINUSE'
      ? `Port ${where} is in use; pick another with ${flag}.`
      : `Cannot listen on ${where} (${code ?? 'unknown error'}); pick another address with ${flag}.`,
    { cause: error },
  );
}

/** A free loopback port (the development server must know the app's URL before it listens). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((done) => probe.close(done));
  return port;
}

/** `dev`: the development authorization server, and the app served protected by it. */
export async function dev(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  devOptions: DevOptions,
): Promise<number> {
  const loaded = loadForCli(io, options);
  const logger = cliLogger(out, options.verbose);
  const base = settingsFor(loaded.settings, devOptions);
  const definition = await definitionFor(io, base, loaded.configFile, devOptions.app);
  const host = devOptions.host ?? '127.0.0.1';
  if (!isLoopbackBind(host)) {
    throw new McpAgentError(
      'USAGE',
      `mcp-agent dev listens on loopback only (its authorization server approves logins for anyone who can reach it); use 127.0.0.1, localhost or ::1, not ${host}.`,
    );
  }
  const port =
    devOptions.port === 0 || devOptions.port === undefined
      ? devOptions.port === 0
        ? await freePort()
        : 8000
      : devOptions.port;
  // The URL `listen()` will serve at: the development server issues tokens for it.
  const resource = `${originOf(host, port)}${MCP_PATH}`;
  const configured = base.authorization;
  const required = configured?.required_scopes.length ? configured.required_scopes : ['mcp:tools'];
  const scopes = advertisedScopes(required, definition, configured?.tool_scopes ?? {});
  // Loaded only here: the package root does not pull oidc-provider in.
  const { startDevAuthorizationServer } = await import('../../dev/authorization-server.js');
  const issuerPort = devOptions.issuerPort ?? 8001;
  const issuerServer = await startDevAuthorizationServer({
    port: issuerPort,
    // Clients of the legacy SSE endpoint ask for tokens for its own resource (RFC 8707).
    resources: [resource, sseResourceOf(resource)],
    defaultResource: resource,
    scopes: [...new Set(scopes)],
    autoApprove: devOptions.autoApprove === true,
    ...(devOptions.devUser ? { devUser: devOptions.devUser } : {}),
    // What happens at the development server (registrations, sign-ins, refusals) is what a
    // person running `dev` watches for: shown without --verbose.
    logger: { ...logger, info: (message) => out.note(message) },
  }).catch((error: unknown) => {
    throw listenError(error, { host, port: issuerPort }, '--issuer-port');
  });
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  try {
    const settings: Settings = {
      ...base,
      authorization: authorizationSchema.parse({
        required_scopes: required,
        tool_scopes: configured?.tool_scopes ?? {},
        enabled: true,
        issuer_url: issuerServer.issuer,
        resource_server_url: resource,
        expected_audiences: [resource],
        introspection_client_id: issuerServer.introspection.clientId,
        introspection_client_secret: issuerServer.introspection.clientSecret,
        resource_name: loaded.settings.name ?? 'mcp-agent-ts (development)',
      }),
    };
    app = await createApp({
      settings,
      definition,
      env: { ...io.env },
      logger,
      cwd: io.cwd,
      info: { name: loaded.settings.name ?? 'mcp-agent-ts', version: VERSION },
    });
    const running = await app.listen({ host, port }).catch((error: unknown) => {
      throw listenError(error, { host, port });
    });
    out.resultJson({
      url: running.url,
      issuer: issuerServer.issuer,
      resource,
      ...(settings.front === undefined ? {} : { front: settings.front }),
    });
    out.result(
      [
        `Development authorization server: ${issuerServer.issuer}${devOptions.autoApprove ? ` (approves at once as "${devOptions.devUser ?? 'dev'}")` : ' (log in with any user name)'}`,
        `Serving MCP at ${running.url}${servedNote(settings)} (protected; scopes: ${required.join(' ')})`,
      ].join('\n'),
    );
    out.note(
      [
        'Connect an MCP client, e.g. the MCP Inspector 2.x (web UI; docs/serve.md has its --cli):',
        `  ${inspectorCommand(running.url, process.versions.node)}`,
        'It discovers the authorization server, registers itself and logs you in. Ctrl-C stops both.',
      ].join('\n'),
    );
    const started = app;
    return await serveUntilStopped(io, out, running, async () => {
      await started.close();
      await issuerServer.close();
    });
  } catch (error) {
    await app?.close();
    await issuerServer.close();
    throw error;
  }
}
