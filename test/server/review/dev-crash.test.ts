/**
 * Review follow-up: a request target that is not a URL (`//x:99999`, an origin-form target with
 * an out-of-range port) gets 400 from the development authorization server, which stays up. Run
 * in a child process: before the fix, the uncaught ERR_INVALID_URL ended the process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('dev server: request targets that are not URLs', () => {
  test('GET //x:99999 gets 400 and the development authorization server stays up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'review-crash-'));
    const script = join(dir, 'crash.mts');
    writeFileSync(
      script,
      `import { connect } from 'node:net';
import { startDevAuthorizationServer } from ${JSON.stringify(join(ROOT, 'src/dev/authorization-server.ts'))};
const as = await startDevAuthorizationServer({ port: 0, resources: ['http://127.0.0.1:9/mcp'] });
const port = Number(new URL(as.issuer).port);
const bad = await new Promise((done, fail) => {
  let answer = '';
  const sock = connect(port, '127.0.0.1', () => {
    sock.write('GET //x:99999 HTTP/1.1\\r\\nHost: 127.0.0.1:' + port + '\\r\\nConnection: close\\r\\n\\r\\n');
  });
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => { answer += chunk; });
  sock.on('end', () => done(Number(/^HTTP\\/1\\.1 (\\d{3})/.exec(answer)?.[1] ?? 0)));
  sock.on('error', fail);
});
const good = (await fetch(as.issuer + '/.well-known/openid-configuration')).status;
console.log(JSON.stringify({ bad, good }));
await as.close();
`,
    );
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(run.stderr).not.toContain('ERR_INVALID_URL');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
      bad: 400,
      good: 200,
    });
  }, 20_000);
});
