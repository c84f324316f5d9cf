/**
 * The resource-server harness (test/conformance/resource-server/) against `serve` and each
 * middleware adapter: every check passes on every target, and each prints its
 * `resource-server conformance: X/Y (target)` line. The harness mirrors open proposals of the
 * conformance repository, not a released suite (see its header).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADAPTERS, type Adapter } from '../middleware/adapters.js';
import { freePort } from '../support/net.js';
import { CHECK_IDS, runResourceServerChecks, summaryLine } from './resource-server/harness.js';
import { startTestIssuer, type TestIssuer } from './resource-server/issuer.js';

const BASELINE = 'mcp:tools';
const ADMIN = 'mcp:admin';

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await startTestIssuer();
});

afterAll(async () => {
  await issuer?.close();
});

/** Start `adapter` trusting the test issuer, run the harness, stop it. */
async function run(adapter: Adapter) {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const started = await adapter.start(
    {
      authorization: {
        issuer_url: issuer.issuer,
        resource_server_url: resource,
        expected_audiences: [resource],
        required_scopes: [BASELINE],
        tool_scopes: { admin_report: [ADMIN] },
      },
    },
    port,
  );
  try {
    return await runResourceServerChecks({
      url: resource,
      tokens: issuer.minter({ resource, scope: `${BASELINE} ${ADMIN}`, baselineScope: BASELINE }),
      scopeProbe: {
        method: 'tools/call',
        params: { name: 'admin_report', arguments: {} },
        requiredScopes: [BASELINE, ADMIN],
      },
    });
  } finally {
    await started.close();
  }
}

describe('resource-server conformance (mirrors open conformance proposals)', () => {
  for (const adapter of Object.values(ADAPTERS)) {
    test(`${adapter.name}: every check passes`, async () => {
      const results = await run(adapter);
      process.stdout.write(`${summaryLine(adapter.name, results)}\n`);
      expect(results.map((result) => result.id)).toEqual([...CHECK_IDS]);
      expect(results.filter((result) => result.status === 'fail')).toEqual([]);
    });
  }
});
