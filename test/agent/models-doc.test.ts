/**
 * docs/agents.md's model example, as the page shows it, run by Node (types stripped) against the
 * built package, with a configuration whose `anthropic:` section points at the stand-in: it prints
 * the model's answer, the key goes in `x-api-key` only, and the run loads the Anthropic provider
 * package and no other.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import { builtFile, testWith } from '../support/services.js';
import { ANSWER, placesOf, type StandIn, startStandIn } from './stand-in.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let standIn: StandIn;
let dir = '';
beforeAll(async () => {
  standIn = await startStandIn();
  mkdirSync(join(root, '.tools'), { recursive: true });
  dir = mkdtempSync(join(root, '.tools', 'agents-doc-'));
});
afterAll(async () => {
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});

testWith(builtFile('dist/agent/index.js'))(
  "docs/agents.md's finder-model.ts answers with the configured Anthropic model",
  async () => {
    const page = readFileSync(join(root, 'docs', 'agents.md'), 'utf8');
    const snippet = /^```ts\n(\/\/ finder-model\.ts\n[\s\S]*?)^```$/m.exec(page)?.[1];
    expect(
      snippet,
      'docs/agents.md has a ```ts block starting with // finder-model.ts',
    ).toBeDefined();
    writeFileSync(join(dir, 'finder-model.ts'), snippet as string);
    writeFileSync(
      join(dir, 'mcp_agent.config.yaml'),
      `anthropic:\n  default_model: claude-sonnet-4-5\n  base_url: ${standIn.url}\n`,
    );
    writeFileSync(join(dir, 'mcp_agent.secrets.yaml'), 'anthropic:\n  api_key: canary-doc-key\n', {
      mode: 0o600,
    });
    const loaded = join(dir, 'loaded.json');
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', join(root, 'scripts', 'module-probe.mjs'), 'finder-model.ts'],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', MODULE_PROBE_OUT: loaded } },
    );
    expect(stdout).toBe(`${ANSWER}\n`);
    expect(stderr).not.toMatch(/canary/);
    const [request] = standIn.received;
    expect(standIn.received).toHaveLength(1);
    expect(request?.url).toBe('/v1/messages');
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ model: 'claude-sonnet-4-5' });
    expect(placesOf(request as NonNullable<typeof request>, 'canary-doc-key')).toEqual([
      'header:x-api-key',
    ]);
    const { packages } = JSON.parse(readFileSync(loaded, 'utf8')) as { packages: string[] };
    const providers = /^@ai-sdk\/(openai|anthropic|google|azure|amazon-bedrock)/;
    expect(packages.filter((name) => providers.test(name))).toEqual(['@ai-sdk/anthropic']);
  },
  30_000,
);
