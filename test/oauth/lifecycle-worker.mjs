/**
 * A separate OS process of the lifecycle tests (test/oauth/lifecycle.test.ts), on the built
 * library (dist/: run `npm run build` first). It prints `up` once loaded, then takes one JSON
 * command per stdin line:
 *
 * - `{"op":"prepare","dir":…,"mode":"token"|"crash","calls":n}`: load the config in `dir`, open
 *   its token store and a new TokenManager, warm discovery, print `ready`;
 * - `{"op":"go"}`: call `token()` `calls` times at once, print `result <json>` (a token value or
 *   an error code per call), close the store;
 * - `{"op":"exit"}` (or the end of stdin): exit.
 *
 * In `crash` mode the OAuth fetch kills the process with SIGKILL as soon as the authorization
 * server has answered a refresh (and so has rotated the refresh token), before the library could
 * write anything: a crash, or an OOM kill, at the worst moment.
 *
 * It imports the modules of dist/index.js it needs rather than the whole index (the MCP SDK,
 * ajv…): a process is up in half the time.
 */
import { createInterface } from 'node:readline';
import { loadSettings } from '../../dist/config/load.js';
import { TokenManager } from '../../dist/oauth/token-manager.js';
import { createTokenStore } from '../../dist/stores/token-store.js';

/** @type {(input: string | URL, init?: RequestInit) => Promise<Response>} */
const plainFetch = (input, init) => fetch(input, init);

/** @type {(input: string | URL, init?: RequestInit) => Promise<Response>} */
const crashingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const body = init?.body === undefined || init.body === null ? '' : String(init.body);
  if (new URL(String(input)).pathname === '/token' && body.includes('grant_type=refresh_token')) {
    await response.clone().text();
    process.stdout.write(`answered ${response.status}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  return response;
};

/** @type {{ store: ReturnType<typeof createTokenStore>, auth: any, calls: number } | undefined} */
let job;

async function prepare(command) {
  const dir = command.dir;
  const { settings } = loadSettings({ cwd: dir, env: {}, homeDir: dir, dotenv: false });
  const store = createTokenStore(settings.oauth.token_store, { cwd: dir, homeDir: dir });
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: command.mode === 'crash' ? crashingFetch : plainFetch,
  });
  const server = settings.mcp.servers.notion;
  const auth = server ? tokens.forServer('notion', server) : undefined;
  if (!auth) throw new Error('server notion does not use OAuth');
  await auth.target();
  job = { store, auth, calls: command.calls ?? 1 };
  process.stdout.write('ready\n');
}

async function go() {
  if (!job) throw new Error('go before prepare');
  const { store, auth, calls } = job;
  job = undefined;
  const settled = await Promise.allSettled(Array.from({ length: calls }, () => auth.token()));
  const result = settled.map((outcome) =>
    outcome.status === 'fulfilled'
      ? { token: outcome.value?.reveal() ?? null }
      : {
          error: String(outcome.reason?.code ?? outcome.reason?.name ?? 'unknown'),
          message: String(outcome.reason?.message ?? outcome.reason),
        },
  );
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  await store.close();
}

process.stdout.write('up\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    if (command.op === 'prepare') await prepare(command);
    else if (command.op === 'go') await go();
    else if (command.op === 'exit') break;
  } catch (error) {
    process.stdout.write(`failed ${JSON.stringify(String(error?.stack ?? error))}\n`);
  }
}
process.exit(0);
