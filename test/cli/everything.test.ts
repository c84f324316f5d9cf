/**
 * The built `mcp-agent` against `@modelcontextprotocol/server-everything` over stdio (issue 15,
 * item 7): `tools call` of its progress, logging, resource and structured-content tools, and the
 * `prompts` and `resources` commands. The result alone is on stdout; progress lines and the
 * server's log messages are on stderr, tagged with the server's name. (Its elicitation and
 * sampling tools: elicitation-terminal.test.ts.)
 *
 * No waiting on time: `trigger-long-running-operation` sends its progress before its result, and
 * `toggle-simulated-logging` writes its first log message (at a random level) from within the
 * tool's handler, before the handler returns, so it reaches the CLI while the call is in flight.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempTree } from '../helpers/cli.js';
import { q } from '../support/config.js';
import { EVERYTHING } from '../support/everything.js';
import { builtFile, describeWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the built CLI in `dir` (no terminal: stdin is closed) until it exits. */
function mcpAgent(dir: string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: join(dir, '.home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const LEVELS = 'debug|info|notice|warning|error|critical|alert|emergency';

describeWith(builtFile('dist/cli/main.js'))('mcp-agent against server-everything', () => {
  let project: ReturnType<typeof tempTree>;
  const cli = (...args: string[]) => mcpAgent(project.dir, ...args);
  const call = (tool: string, json?: string, ...global: string[]) =>
    cli(...global, 'tools', 'call', 'everything', tool, ...(json === undefined ? [] : [json]));

  beforeAll(() => {
    project = tempTree({
      'mcp_agent.config.yaml': `mcp:
  servers:
    everything:
      command: ${q(process.execPath)}
      args: [${q(EVERYTHING)}, stdio]
`,
    });
  });
  afterAll(() => project.cleanup());

  test('trigger-long-running-operation: one progress line per step on stderr, the result alone on stdout', async () => {
    const ran = await call('trigger-long-running-operation', '{"duration": 0.03, "steps": 3}');
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toBe(
      'Long running operation completed. Duration: 0.03 seconds, Steps: 3.\n',
    );
    const progress = ran.stderr.split('\n').filter((line) => line.startsWith('everything: '));
    expect(progress).toEqual(['everything: 1/3', 'everything: 2/3', 'everything: 3/3']);
  }, 30_000);

  test('with --json, stdout is the one JSON result and progress stays on stderr', async () => {
    const ran = await call(
      'trigger-long-running-operation',
      '{"duration": 0, "steps": 2}',
      '--json',
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({
      content: [{ type: 'text', text: expect.stringContaining('Steps: 2.') }],
    });
    expect(ran.stderr).toMatch(/^everything: 1\/2\neverything: 2\/2$/m);
  }, 30_000);

  test('toggle-simulated-logging: the server log message sent during the call is on stderr, tagged and levelled', async () => {
    // --verbose shows every level (the message's level is random; debug is shown only then).
    const ran = await call('toggle-simulated-logging', undefined, '--verbose');
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^Started simulated, random-leveled logging/);
    expect(ran.stdout).not.toContain('level message');
    expect(ran.stderr).toMatch(
      new RegExp(`^everything \\[(${LEVELS})\\]: \\w+[- ]level[- ]message$`, 'im'),
    );
  }, 30_000);

  test('get-resource-reference: the embedded resource as JSON after the text', async () => {
    const ran = await call('get-resource-reference', '{"resourceType": "Text", "resourceId": 3}');
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('Returning resource reference for Resource 3');
    expect(ran.stdout).toContain('"uri": "demo://resource/dynamic/text/3"');
    expect(ran.stdout).toContain('"type": "resource"');
  }, 30_000);

  test('get-resource-links: each link as JSON; --json keeps every field', async () => {
    const ran = await call('get-resource-links', '{"count": 2}');
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.match(/"type": "resource_link"/g)).toHaveLength(2);
    const json = await call('get-resource-links', '{"count": 1}', '--json');
    const result = JSON.parse(json.stdout) as { content: Record<string, unknown>[] };
    expect(result.content).toContainEqual(
      expect.objectContaining({ type: 'resource_link', uri: 'demo://resource/dynamic/blob/1' }),
    );
  }, 30_000);

  test('get-structured-content: the text on stdout, the structured content with --json', async () => {
    const ran = await call('get-structured-content', '{"location": "Chicago"}');
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toHaveProperty('temperature');
    const json = await call('get-structured-content', '{"location": "Chicago"}', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      structuredContent: {
        temperature: expect.any(Number),
        conditions: expect.any(String),
        humidity: expect.any(Number),
      },
    });
    // An input schema the CLI checks first: a city the enum lacks is refused before the call.
    const refused = await call('get-structured-content', '{"location": "Paris"}');
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('do not match the input schema');
  }, 30_000);

  test('gzip-file-as-resource: a data URI compressed, returned as a blob resource; no Ajv noise on stderr', async () => {
    const data = `data:text/plain;base64,${Buffer.from('hello, everything').toString('base64')}`;
    const ran = await call(
      'gzip-file-as-resource',
      JSON.stringify({ name: 'hello.txt.gz', data, outputType: 'resource' }),
      '--json',
    );
    expect(ran.code, ran.stderr).toBe(0);
    // The input schema's "uri" format is unknown to the CLI's validator, which says nothing of it.
    expect(ran.stderr).not.toContain('unknown format');
    const result = JSON.parse(ran.stdout) as {
      content: { type: string; resource: { uri: string; mimeType: string; blob: string } }[];
    };
    const [item] = result.content;
    expect(item?.resource).toMatchObject({
      uri: 'demo://resource/session/hello.txt.gz',
      mimeType: 'application/gzip',
    });
    expect(gunzipSync(Buffer.from(item?.resource.blob ?? '', 'base64')).toString()).toBe(
      'hello, everything',
    );
  }, 30_000);

  test('prompts list and get: served names with arguments, messages as role: text', async () => {
    const list = await cli('prompts', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^everything_simple-prompt\s+A prompt with no arguments$/m);
    expect(list.stdout).toMatch(/^everything_args-prompt\s+city \[state\]\s/m);
    const args = await cli('prompts', 'get', 'everything_args-prompt', '{"city": "Paris"}');
    expect(args.code, args.stderr).toBe(0);
    expect(args.stdout).toBe("user: What's weather in Paris?\n");
    const embedded = await cli(
      'prompts',
      'get',
      'everything_resource-prompt',
      '{"resourceType": "Text", "resourceId": "2"}',
    );
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stdout).toContain('"uri":"demo://resource/dynamic/text/2"');
  }, 30_000);

  test('resources list and read: static documents and a templated URI', async () => {
    const list = await cli('resources', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      /^demo:\/\/resource\/static\/document\/features\.md\s+everything_features\.md$/m,
    );
    expect(list.stdout).toContain('demo://resource/dynamic/text/{resourceId}');
    const read = await cli('resources', 'read', 'demo://resource/dynamic/text/5');
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/^Resource 5: This is a plaintext resource/);
  }, 30_000);
});
