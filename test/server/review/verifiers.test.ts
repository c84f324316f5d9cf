/**
 * Review follow-up for the introspection verifier (token confusion, principals, caching of an
 * answer without `exp`) and for workflow runs (running runs capped per principal and in all,
 * finished runs kept per principal, results bounded in size).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppCatalog } from '../../../src/app/catalog.js';
import { AppDefinition } from '../../../src/app/define.js';
import { WorkflowLimitError, WorkflowRuns } from '../../../src/app/workflows.js';
import { Secret } from '../../../src/config/secret.js';
import { type CallerIdentity, principalOf } from '../../../src/server/identity.js';
import { VerificationCache } from '../../../src/server/verification-cache.js';
import { IntrospectionVerifier } from '../../../src/server/verifiers/introspection.js';
import { type FakeServer, recordingFetch, send, startFakeServer } from '../fixtures.js';
import { textOf } from '../serve-support.js';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';
let server: FakeServer;
let reply: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startFakeServer((_req, res) => send(res, 200, reply));
});
afterAll(async () => {
  await server.close();
});

function verifier(now = Date.now) {
  return new IntrospectionVerifier({
    endpoint: server.url('/introspect'),
    clientId: 'rs',
    clientSecret: new Secret('s'),
    issuer: ISSUER,
    audiences: [AUDIENCE],
    fetch: recordingFetch(),
    now,
  });
}

const base = () => ({
  active: true,
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'alice',
  client_id: 'client-1',
  scope: 'mcp:tools',
  exp: Math.floor(Date.now() / 1000) + 600,
});

const INVALID = { ok: false, reason: 'invalid' } as const;

describe('introspection token confusion', () => {
  test('a sender-constrained token (cnf: mTLS or DPoP, typed or not) is refused', async () => {
    // This resource server checks no DPoP proof and no client certificate: a bound token would
    // replay without its proof.
    reply = base();
    expect(await verifier().verify('opaque-plain')).toMatchObject({ ok: true });
    reply = {
      ...base(),
      token_type: 'DPoP',
      cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' },
    };
    expect(await verifier().verify('opaque-dpop-typed')).toMatchObject(INVALID);
    reply = {
      ...base(),
      token_type: 'Bearer',
      cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
    };
    expect(await verifier().verify('opaque-mtls-bound')).toMatchObject(INVALID);
    reply = { ...base(), cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } };
    expect(await verifier().verify('opaque-dpop-untyped')).toMatchObject(INVALID);
  });

  test('Keycloak-style `typ` other than an access token type (Refresh, ID, Offline) is refused', async () => {
    for (const typ of ['Refresh', 'ID', 'Offline']) {
      reply = { ...base(), typ };
      expect(await verifier().verify(`typ-${typ}`), typ).toMatchObject(INVALID);
    }
    reply = { ...base(), typ: 'Bearer' };
    expect(await verifier().verify('typ-bearer')).toMatchObject({ ok: true });
  });

  test('a `sub` that is not a non-empty string is refused, never replaced by client_id', async () => {
    for (const sub of [12345, null, true, { id: 'alice' }, ['alice'], '']) {
      reply = { ...base(), sub, client_id: 'alice' };
      expect(await verifier().verify(`bad-sub-${JSON.stringify(sub)}`), String(sub)).toMatchObject(
        INVALID,
      );
    }
  });

  test('no `sub`: the subject is `client:<client_id>`, never the user of that name', async () => {
    const { sub: _sub, ...withoutSub } = base();
    reply = { ...withoutSub, client_id: 'alice' };
    const result = await verifier().verify('client-credentials');
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: 'client:alice', clientId: 'alice' },
    });
    if (!result.ok) throw new Error('unreachable');
    expect(principalOf(result.identity)).not.toBe(
      principalOf({ issuer: ISSUER, subject: 'alice' }),
    );
  });

  test('an introspection answer without `exp` is cached for at most 60 s', async () => {
    let now = 1_700_000_000_000;
    const clock = () => now;
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock });
    const v = verifier(clock);
    const { exp: _exp, ...withoutExp } = base();
    reply = withoutExp;
    expect(await cache.verify('no-exp-token', v)).toMatchObject({ ok: true });
    expect(v.requests).toBe(1);
    // The AS revokes it; 61 s later the cache asks again and hears so.
    reply = { active: false };
    now += 61_000;
    expect(await cache.verify('no-exp-token', v)).toMatchObject(INVALID);
    expect(v.requests).toBe(2);
  });
});

describe('workflow runs', () => {
  const forever = {
    name: 'forever',
    scopes: [],
    run: (_input: Record<string, unknown>, { signal }: { signal: AbortSignal }) =>
      new Promise((_done, fail) => signal.addEventListener('abort', () => fail(new Error('x')))),
  };
  const quick = { name: 'quick', scopes: [], run: () => ({ secret: 'alice-result' }) };

  test('a principal may have at most 32 running runs; the 33rd start is refused', async () => {
    const runs = new WorkflowRuns();
    const ids: string[] = [];
    for (let i = 0; i < 32; i++) {
      ids.push((await runs.start(forever, {}, 'mallory', undefined)).run_id);
    }
    await expect(runs.start(forever, {}, 'mallory', undefined)).rejects.toThrow(WorkflowLimitError);
    expect((await runs.status(ids[31] as string, 'mallory'))?.status).toBe('running');
    // Another principal is not held back by mallory's runs.
    const alices = (await runs.start(forever, {}, 'alice', undefined)).run_id;
    expect((await runs.status(alices, 'alice'))?.status).toBe('running');
    // A finished run makes room again.
    expect((await runs.cancel(ids[0] as string, 'mallory'))?.status).toBe('cancelled');
    expect((await runs.start(forever, {}, 'mallory', undefined)).run_id).toEqual(
      expect.any(String),
    );
    await expect(runs.start(forever, {}, 'mallory', undefined)).rejects.toThrow(WorkflowLimitError);
    await runs.cancelAll();
    await runs.settled();
  });

  test('the workflow tool answers an error result when the principal has 32 runs running', async () => {
    const definition = new AppDefinition();
    definition.workflow('forever', forever.run);
    const runs = new WorkflowRuns();
    const catalog = new AppCatalog({ app: definition, runs });
    const tool = await catalog.find('workflows-forever-run');
    if (!tool) throw new Error('no workflows-forever-run tool');
    const caller: CallerIdentity = {
      issuer: ISSUER,
      subject: 'mallory',
      scopes: [],
      claims: {},
      verifiedBy: 'introspection',
    };
    const context = { caller, signal: new AbortController().signal };
    for (let i = 0; i < 32; i++) {
      const started = await tool.call({}, context);
      expect(started.isError, `start ${i + 1}`).toBeFalsy();
    }
    const refused = await tool.call({}, context);
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/too many workflow runs/i);
    await runs.cancelAll();
    await runs.settled();
  });

  test('running runs are capped in all (the `running` limit), whoever starts them', async () => {
    const runs = new WorkflowRuns({ limits: { running: 5 } });
    for (let i = 0; i < 5; i++) await runs.start(forever, {}, `principal-${i}`, undefined);
    await expect(runs.start(forever, {}, 'principal-5', undefined)).rejects.toThrow(
      WorkflowLimitError,
    );
    await expect(runs.start(forever, {}, 'principal-0', undefined)).rejects.toThrow(
      WorkflowLimitError,
    );
    await runs.cancelAll();
    await runs.settled();
    expect((await runs.start(forever, {}, 'principal-5', undefined)).run_id).toEqual(
      expect.any(String),
    );
    await runs.cancelAll();
    await runs.settled();
  });

  test("finished runs are kept per principal: another principal's many do not evict a result", async () => {
    const runs = new WorkflowRuns();
    const mine = (await runs.start(quick, {}, 'alice', undefined)).run_id;
    await runs.settled();
    expect((await runs.status(mine, 'alice'))?.status).toBe('completed');
    const theirs: string[] = [];
    // More than the 1,000 finished runs once kept in all (and than the 100 kept per principal).
    for (let i = 0; i < 1_050; i++) {
      theirs.push((await runs.start(quick, {}, 'mallory', undefined)).run_id);
      await runs.settled();
    }
    expect((await runs.status(theirs.at(-1) as string, 'mallory'))?.status).toBe('completed');
    // mallory's own oldest are the ones that go.
    expect(await runs.status(theirs[0] as string, 'mallory')).toBeUndefined();
    expect(await runs.status(mine, 'alice')).toMatchObject({
      status: 'completed',
      result: { secret: 'alice-result' },
    });
  });

  test('a result larger than `resultBytes` is not kept: the status says so instead', async () => {
    const runs = new WorkflowRuns({ limits: { resultBytes: 1024 } });
    const big = { name: 'big', scopes: [], run: () => ({ data: 'x'.repeat(2_000) }) };
    const small = { name: 'small', scopes: [], run: () => ({ data: 'x'.repeat(100) }) };
    const bigRun = (await runs.start(big, {}, 'alice', undefined)).run_id;
    const smallRun = (await runs.start(small, {}, 'alice', undefined)).run_id;
    await runs.settled();
    const state = await runs.status(bigRun, 'alice');
    expect(state?.status).not.toBe('running');
    expect(state?.result).toBeUndefined();
    expect(state?.error).toEqual(expect.any(String));
    expect((await runs.status(smallRun, 'alice'))?.result).toEqual({ data: 'x'.repeat(100) });
  });
});

describe('verdicts that may change soon are not remembered', () => {
  test('a refusal marked retryable (a key id not published yet) is asked again; a plain one is cached', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'retryable' });
    let calls = 0;
    const retryable = {
      async verify() {
        calls += 1;
        return {
          ok: false as const,
          reason: 'invalid' as const,
          description: 'not valid',
          retryable: true,
        };
      },
    };
    await cache.verify('token-a', retryable);
    await cache.verify('token-a', retryable);
    expect(calls).toBe(2);
    const plain = {
      async verify() {
        calls += 1;
        return { ok: false as const, reason: 'invalid' as const, description: 'not valid' };
      },
    };
    await cache.verify('token-b', plain);
    await cache.verify('token-b', plain);
    expect(calls).toBe(3);
  });
});
