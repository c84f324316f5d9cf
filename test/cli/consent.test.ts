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
    stderr: { write: (text: string) => ((stderr += text), true) },
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
