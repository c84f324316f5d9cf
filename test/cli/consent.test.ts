/**
 * What the CLI's consent prints before a login: the server, its authorization server and the
 * scopes asked for; for a step-up, the scopes the server wants in addition.
 */
import { describe, expect, test } from 'vitest';
import { cliConsent } from '../../src/cli/consent.js';
import { type CliIo, Output } from '../../src/cli/io.js';

function consentWithOutput() {
  let stderr = '';
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: {
      write: (text: string) => {
        stderr += text;
        return true;
      },
    },
    env: {},
    cwd: '/',
    openBrowser: async () => true,
  };
  return { consent: cliConsent(io, new Output(io, false)), stderr: () => stderr };
}

const URL_TO_OPEN = new URL('https://as.example.com/authorize?client_id=c&state=s');
const INFO = { server: 'notion', issuer: 'https://as.example.com', deadline: Date.now() + 60_000 };

describe('the CLI consent names what a login asks for', () => {
  test('a first login: the scopes requested', async () => {
    const { consent, stderr } = consentWithOutput();
    await consent.showAuthorizationUrl(URL_TO_OPEN, { ...INFO, scopes: ['read', 'write'] });
    consent.finished?.('failed');
    expect(stderr()).toContain(
      'To authorize server "notion" (scopes: read write) at https://as.example.com, open this URL in a browser:',
    );
  });

  test('a step-up: the scope the server asked for in addition', async () => {
    const { consent, stderr } = consentWithOutput();
    await consent.showAuthorizationUrl(URL_TO_OPEN, {
      ...INFO,
      scopes: ['read', 'admin'],
      added: ['admin'],
    });
    consent.finished?.('failed');
    expect(stderr()).toContain(
      'Server "notion" asks for more access (admin); to authorize it at https://as.example.com, open this URL in a browser:',
    );
  });

  test('a device code for a step-up says the same', () => {
    const { consent, stderr } = consentWithOutput();
    consent.showDeviceCode({
      server: 'notion',
      issuer: 'https://as.example.com',
      userCode: 'ABCD-EFGH',
      verificationUri: 'https://as.example.com/device',
      expiresAt: Date.now() + 60_000,
      scopes: ['read', 'admin'],
      added: ['admin'],
    });
    consent.finished?.('failed');
    expect(stderr()).toContain(
      'Server "notion" asks for more access (admin); to authorize it at https://as.example.com, visit:',
    );
  });

  test('scopes from the server cannot carry terminal escapes', async () => {
    const { consent, stderr } = consentWithOutput();
    await consent.showAuthorizationUrl(URL_TO_OPEN, { ...INFO, scopes: ['read\u001b[2J'] });
    consent.finished?.('failed');
    expect(stderr()).not.toContain('\u001b');
  });
});

describe('when no loopback port can be listened on', () => {
  const request = (port: number) => ({
    server: 'notion',
    ports: [port],
    host: '127.0.0.1' as const,
    redirectUris: [],
    timeoutMs: 5_000,
  });

  async function busyPort(): Promise<{ port: number; close: () => Promise<void> }> {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    return { port, close: () => new Promise((done) => server.close(() => done())) };
  }

  test('with input to paste on: a warning, and the address can be pasted', async () => {
    const busy = await busyPort();
    const { PassThrough } = await import('node:stream');
    const stdin = new PassThrough();
    let stderr = '';
    const io: CliIo = {
      stdout: { write: () => true },
      stderr: {
        write: (text: string) => {
          stderr += text;
          return true;
        },
      },
      env: {},
      cwd: '/',
      stdin,
    };
    const consent = cliConsent(io, new Output(io, false), { noBrowser: true });
    try {
      const receiver = await consent.openReceiver(request(busy.port));
      expect(receiver.redirectUri).toBe(`http://127.0.0.1:${busy.port}/callback`);
      expect(stderr).toContain('No loopback port is free');
      expect(stderr).toContain('Paste the address the browser ends on instead.');
      expect(stderr).not.toContain('--no-browser');
      const pasted = receiver.wait('s1');
      stdin.write(`http://127.0.0.1:${busy.port}/callback?code=c&state=s1\n`);
      expect((await pasted).searchParams.get('code')).toBe('c');
      await receiver.close();
    } finally {
      consent.finished?.('ok');
      await busy.close();
    }
  });

  test('without input: the error names --device, never --no-browser', async () => {
    const busy = await busyPort();
    const io: CliIo = {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env: {},
      cwd: '/',
    };
    const consent = cliConsent(io, new Output(io, false), { noBrowser: true });
    try {
      const error = await consent.openReceiver(request(busy.port)).catch((caught: Error) => caught);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain('Or log in with --device.');
      expect((error as Error).message).not.toContain('--no-browser');
    } finally {
      await busy.close();
    }
  });
});
