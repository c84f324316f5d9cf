/**
 * A separate OS process of the concurrent registration tests
 * (test/oauth/concurrent-registration.test.ts), on the built library (dist/: run `npm run build`
 * first). It takes one JSON command per stdin line:
 *
 * - `{"op":"prepare","dir":…}`: load the config in `dir`, open its token store and a new
 *   TokenManager without a consent, warm discovery, print `ready`;
 * - `{"op":"go"}`: start a login (handed over, as a headless agent does), print
 *   `result <client_id>` of its authorization URL (or `failed <code>`), close the store and exit.
 */
import { createInterface } from 'node:readline';
import { loadSettings } from '../../dist/config/load.js';
import { TokenManager } from '../../dist/oauth/token-manager.js';
import { createTokenStore } from '../../dist/stores/token-store.js';

/** @type {{ store: ReturnType<typeof createTokenStore>, auth: any } | undefined} */
let job;

async function prepare(dir) {
  const { settings } = loadSettings({ cwd: dir, env: {}, homeDir: dir, dotenv: false });
  const store = createTokenStore(settings.oauth.token_store, { cwd: dir, homeDir: dir });
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: (input, init) => fetch(input, init),
  });
  const server = settings.mcp.servers.notion;
  const auth = server ? tokens.forServer('notion', server) : undefined;
  if (!auth) throw new Error('server notion does not use OAuth');
  await auth.target();
  job = { store, auth };
  process.stdout.write('ready\n');
}

async function go() {
  if (!job) throw new Error('go before prepare');
  const error = await job.auth.authorize().then(
    () => undefined,
    (caught) => caught,
  );
  if (error?.authorizationUrl) {
    const clientId = new URL(error.authorizationUrl).searchParams.get('client_id');
    process.stdout.write(`result ${clientId}\n`);
  } else {
    process.stdout.write(`failed ${error?.code ?? 'no-error'} ${error?.message ?? ''}\n`);
  }
  await job.store.close();
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line);
  const run = command.op === 'prepare' ? prepare(command.dir) : go();
  run.catch((error) => {
    process.stdout.write(`failed ${error?.code ?? 'error'} ${error?.message ?? error}\n`);
    process.exit(1);
  });
});
lines.on('close', () => process.exit(0));
