import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { type EverythingServer, startEverything } from '../support/everything.js';
import { builtFile, describeWith } from '../support/services.js';
import { selfSignedCertificate } from '../support/stub-servers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describeWith(builtFile('dist/cli/main.js'))(
  'NODE_EXTRA_CA_CERTS (a private CA, as behind a TLS-inspecting proxy)',
  () => {
    let dir: string;
    let https: Server;
    let url: string;
    let caFile: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-tls-'));
      const tls = selfSignedCertificate(dir, '127.0.0.1');
      caFile = tls.certFile;
      https = createServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
        // Stateless: a new server and transport per request.
        const server = new McpServer({ name: 'tls', version: '1.0.0' });
        server.registerTool('hello', { description: 'Says hello' }, () => ({
          content: [{ type: 'text', text: 'hello over TLS' }],
        }));
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined as unknown as () => string,
        });
        res.on('close', () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res);
      });
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/mcp`;
      writeFileSync(
        join(dir, 'mcp_agent.config.yaml'),
        `mcp:\n  servers:\n    tls:\n      transport: streamable_http\n      url: ${url}\n`,
      );
    });
    afterAll(async () => {
      https?.closeAllConnections();
      await new Promise((resolve) => https?.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    // Asynchronous: the HTTPS server runs in this process and must keep answering.
    const cli = (env: Record<string, string>) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(root, 'bin', 'mcp-agent.js'), 'tools', 'call', 'tls', 'hello'],
          { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, timeout: 20_000 },
          (error, stdout, stderr) =>
            resolve({
              status: error ? ((error as { code?: number }).code ?? -1) : 0,
              stdout,
              stderr,
            }),
        );
      });

    test('without it, the certificate is not trusted and the message says what to do', async () => {
      const result = await cli({});
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        /TLS certificate of https:\/\/127\.0\.0\.1:\d+\/mcp is not trusted/,
      );
      expect(result.stderr).toContain('NODE_EXTRA_CA_CERTS');
    });

    test('with it pointing at the CA, the same call works', async () => {
      const result = await cli({ NODE_EXTRA_CA_CERTS: caFile });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain('hello over TLS');
    });
  },
);

describe('Streamable HTTP session resumption', () => {
  let everything: EverythingServer;
  beforeAll(async () => {
    everything = await startEverything('streamableHttp');
  });
  afterAll(async () => {
    await everything?.stop();
  });

  test('a session kept open (terminate_on_close: false) is resumed by its id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-resume-'));
    writeFileSync(
      join(dir, 'mcp_agent.config.yaml'),
      `mcp:\n  servers:\n    ev:\n      transport: streamable_http\n      url: ${everything.origin}/mcp\n      terminate_on_close: false\n`,
    );
    const { settings } = loadSettings({ cwd: dir, env: {}, homeDir: dir });
    try {
      const first = new ServerRegistry(settings, { env: {} });
      const connection = await first.connect('ev');
      const sessionId = connection.sessionId;
      expect(sessionId).toMatch(/.+/);
      await first.closeAll();

      const second = new ServerRegistry(settings, { env: {} });
      const resumed = await second.connect('ev', { sessionId: sessionId ?? '' });
      expect(resumed.sessionId).toBe(sessionId);
      const result = await resumed.callTool('echo', { message: 'again' });
      expect(result.content[0]).toMatchObject({ type: 'text', text: 'Echo: again' });
      await second.closeAll();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
