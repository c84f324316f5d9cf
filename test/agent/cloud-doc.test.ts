/**
 * docs/agents.md's `cloud-model.ts`, as the page shows it, run by Node (types stripped) against
 * the built package with `azure` and a `credentials.azure` Entra ID profile pointing at the
 * stand-ins: it prints the model's answer; the token the stand-in token endpoint issued arrives
 * as `Authorization: Bearer`, and the client secret nowhere.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import { builtFile, testWith } from '../support/services.js';
import { startTokenEndpoint, type TokenEndpoint } from './cloud-stand-ins.js';
import { type ScriptedChat, startScriptedChat } from './scripted-chat.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const SCOPE = 'https://cognitiveservices.azure.com/.default';

let entra: TokenEndpoint;
let azure: ScriptedChat;
let dir = '';
beforeAll(async () => {
  entra = await startTokenEndpoint({
    client: { id: 'finder-app', secret: 'canary-doc-client-secret', scope: SCOPE },
    expiresIn: 300,
    prefix: 'entra-doc',
  });
  azure = await startScriptedChat();
  mkdirSync(join(root, '.tools'), { recursive: true });
  dir = mkdtempSync(join(root, '.tools', 'cloud-doc-'));
});
afterAll(async () => {
  await azure.close();
  await entra.close();
  rmSync(dir, { recursive: true, force: true });
});

testWith(builtFile('dist/agent/index.js'))(
  "docs/agents.md's cloud-model.ts answers with Azure, through an Entra ID token",
  async () => {
    const page = readFileSync(join(root, 'docs', 'agents.md'), 'utf8');
    const snippet = /^```ts\n(\/\/ cloud-model\.ts\n[\s\S]*?)^```$/m.exec(page)?.[1];
    expect(
      snippet,
      'docs/agents.md has a ```ts block starting with // cloud-model.ts',
    ).toBeDefined();
    writeFileSync(join(dir, 'cloud-model.ts'), snippet as string);
    writeFileSync(
      join(dir, 'mcp_agent.config.yaml'),
      [
        'azure:',
        `  endpoint: ${azure.url}/`,
        '  api_version: "2024-10-21"',
        '  azure_deployment: finder-gpt4o',
        'credentials:',
        '  azure:',
        '    type: oauth2',
        `    token_url: ${entra.url}`,
        '    client_id: finder-app',
        `    scopes: [${SCOPE}]`,
        `    hosts: [${new URL(azure.url).hostname}]`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'mcp_agent.secrets.yaml'),
      'credentials:\n  azure:\n    client_secret: ${AZURE_CLIENT_SECRET}\n',
      { mode: 0o600 },
    );
    azure.script = (request) =>
      request.authorization === `Bearer ${entra.current()}`
        ? { text: 'The first two paragraphs, from Azure.' }
        : { status: 401, error: 'Access denied.' };
    const { stdout, stderr } = await run(process.execPath, ['cloud-model.ts', 'azure'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', AZURE_CLIENT_SECRET: 'canary-doc-client-secret' },
    });
    expect(stdout).toBe('The first two paragraphs, from Azure.\n');
    expect(stderr).not.toMatch(/canary|entra-doc/);
    expect(entra.grants).toEqual([{ grantType: 'client_credentials', ok: true }]);
    expect(azure.received).toHaveLength(1);
    const [request] = azure.received;
    expect(request?.authorization).toBe('Bearer entra-doc-1');
    expect(JSON.stringify(request?.headers)).not.toMatch(/canary-doc-client-secret/);
    expect(JSON.stringify(request?.body)).not.toMatch(/canary|entra-doc/);
  },
  30_000,
);
