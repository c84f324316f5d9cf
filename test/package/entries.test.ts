/**
 * The package's entry points (issue 16), as built: every subpath of package.json `exports`
 * resolves by the package's name to a module with its documented names, and importing a layer's
 * entry loads only that layer. Each import runs in a fresh Node process under
 * scripts/module-probe.mjs, which records every module resolved (import and require alike).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { type ProbedRun, runProbed } from '../support/module-probe.js';
import { builtFile, describeWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Something an entry must not load, recognised in the list of modules a process resolved. */
interface Forbidden {
  readonly name: string;
  readonly matches: (url: string) => boolean;
}

function packages(...names: string[]): Forbidden {
  return {
    name: names.join(', '),
    matches: (url) => names.some((name) => url.includes(`/node_modules/${name}/`)),
  };
}

const UNDICI = packages('undici');
const REDIS = packages('redis', '@redis/client');
const OIDC_PROVIDER = packages('oidc-provider', 'koa');
const OAUTH4WEBAPI = packages('oauth4webapi');
/** The MCP SDK, v1 and v2 (the package runs on v2; v1 is its tests' interop peer). */
const MCP_SDK = packages(
  '@modelcontextprotocol/sdk',
  '@modelcontextprotocol/client',
  '@modelcontextprotocol/core',
  '@modelcontextprotocol/server',
  '@modelcontextprotocol/node',
);
/** The AI SDK's provider packages: imported when a model of theirs is made, by no entry. */
/** The AI SDK itself: the `Agent` needs it, the root (which has `modelFor` only) does not. */
const AI_SDK = packages('ai', '@ai-sdk/gateway');
const AI_PROVIDERS = packages(
  '@ai-sdk/openai',
  '@ai-sdk/anthropic',
  '@ai-sdk/google',
  '@ai-sdk/azure',
  '@ai-sdk/amazon-bedrock',
  '@ai-sdk/openai-compatible',
);
const MCP_SDK_SERVER: Forbidden = {
  name: "the MCP SDK's server",
  matches: (url) =>
    /\/@modelcontextprotocol\/sdk\/dist\/\w+\/server\/(index|mcp|streamableHttp|sse)\.js$/.test(
      url,
    ) || /\/node_modules\/@modelcontextprotocol\/(server|node)\//.test(url),
};

/** Each entry: names it must export (a sample of what it is for) and what it must not load. */
const ENTRIES: Readonly<
  Record<string, { documented: readonly string[]; forbidden: readonly Forbidden[] }>
> = {
  '.': {
    documented: [
      'loadSettings',
      'createAgentAuth',
      'TokenManager',
      'withOAuth',
      'JwtVerifier',
      'createApp',
    ],
    forbidden: [OIDC_PROVIDER, REDIS, AI_PROVIDERS, AI_SDK],
  },
  './config': {
    documented: ['loadSettings', 'settingsSchema', 'Secret', 'ToolNames', 'ConfigError'],
    forbidden: [UNDICI, REDIS, MCP_SDK, OIDC_PROVIDER],
  },
  './client': {
    documented: [
      'createAgentAuth',
      'handOverConsent',
      'interactiveConsent',
      'TokenManager',
      'ServerAuth',
      'withOAuth',
      'ServerRegistry',
      'discover',
      'registerClient',
      'startLoopbackReceiver',
      'AuthorizationRequiredError',
    ],
    forbidden: [OIDC_PROVIDER, MCP_SDK_SERVER, REDIS],
  },
  './stores': {
    documented: [
      'createTokenStore',
      'TokenStore',
      'FileKeyValueStore',
      'MemoryKeyValueStore',
      'RedisKeyValueStore',
      'RegistrationStore',
      'Sealer',
    ],
    // The Redis client is loaded when a Redis store first runs a command.
    forbidden: [MCP_SDK, OIDC_PROVIDER, REDIS, UNDICI],
  },
  './server': {
    documented: [
      'JwtVerifier',
      'JwksCache',
      'IntrospectionVerifier',
      'ConfiguredVerifier',
      'BearerGuard',
      'VerificationCache',
      'protectedResourceMetadata',
      'challengeFor',
      'currentCaller',
    ],
    // Nothing of the outbound stack, and not the MCP SDK at all.
    forbidden: [UNDICI, REDIS, MCP_SDK, OIDC_PROVIDER, OAUTH4WEBAPI],
  },
  './app': {
    documented: ['createApp', 'defineApp', 'AppDefinition', 'createMcpHttpHandler'],
    forbidden: [OIDC_PROVIDER, REDIS],
  },
  './agent': {
    documented: ['modelFor', 'MODEL_PROVIDERS', 'Agent', 'loadAgents', 'McpAgentError'],
    forbidden: [AI_PROVIDERS, OIDC_PROVIDER, REDIS, MCP_SDK, UNDICI],
  },
  './dev': {
    documented: ['startDevAuthorizationServer'],
    forbidden: [MCP_SDK, UNDICI, REDIS],
  },
};

type Target = string | { readonly types: string; readonly default: string };
const exportsMap = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, Target>;
  }
).exports;
const subpaths = Object.keys(exportsMap).filter((subpath) => subpath !== './package.json');

const imported = new Map<string, ProbedRun>();

/** Import `subpath` of the package by its name in a fresh process; it prints the names exported. */
function importInFreshProcess(subpath: string): ProbedRun {
  const specifier = subpath === '.' ? 'mcp-agent-ts' : `mcp-agent-ts/${subpath.slice(2)}`;
  const run = runProbed(
    [
      '--input-type=module',
      '-e',
      `const m = await import('${specifier}'); process.stdout.write(JSON.stringify(Object.keys(m)));`,
    ],
    { cwd: root },
  );
  expect(run.status, `import '${specifier}': ${run.stderr}`).toBe(0);
  return run;
}

/** The names `subpath` exports. */
function namesOf(subpath: string): string[] {
  return JSON.parse(imported.get(subpath)?.stdout ?? '[]') as string[];
}

describeWith(builtFile('dist/index.js'))('the entry points of the built package', () => {
  beforeAll(() => {
    for (const subpath of subpaths) imported.set(subpath, importInFreshProcess(subpath));
  }, 60_000);

  test('every entry listed here is a subpath of package.json, with types and code', () => {
    expect(subpaths).toEqual(expect.arrayContaining(Object.keys(ENTRIES)));
    for (const subpath of subpaths) {
      const target = exportsMap[subpath];
      expect(typeof target, subpath).toBe('object');
      if (typeof target !== 'object') continue;
      // `types` first: TypeScript takes the first condition that matches.
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
      expect(existsSync(join(root, target.types)), target.types).toBe(true);
      expect(existsSync(join(root, target.default)), target.default).toBe(true);
    }
  });

  test.each(subpaths)(
    '%s resolves by the package name and exports its documented names',
    (subpath) => {
      const names = namesOf(subpath);
      expect(names.length).toBeGreaterThan(0);
      expect(names).toEqual(expect.arrayContaining([...(ENTRIES[subpath]?.documented ?? [])]));
    },
  );

  test.each(Object.keys(ENTRIES))('%s loads only its layer', (subpath) => {
    const { urls, packages: loaded } = imported.get(subpath) as ProbedRun;
    const offenders = (ENTRIES[subpath]?.forbidden ?? [])
      .filter((forbidden) => urls.some(forbidden.matches))
      .map((forbidden) => forbidden.name);
    expect(offenders, `'${subpath}' loaded: ${loaded.join(' ')}`).toEqual([]);
  });

  test('the root exports nothing that no layer entry exports (every name has a layer)', () => {
    const layered = new Set(subpaths.filter((subpath) => subpath !== '.').flatMap(namesOf));
    expect(namesOf('.').filter((name) => !layered.has(name))).toEqual([]);
  });

  test("the README's verify-only.ts runs on mcp-agent-ts/server, loading jose and nothing else", () => {
    // The snippet, as the README shows it, run by Node (types stripped) from inside the package,
    // so that `mcp-agent-ts/server` resolves to this build. Requests it refuses without a network.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const snippet = /^```ts\n(\/\/ verify-only\.ts\n[\s\S]*?)^```$/m.exec(readme)?.[1];
    expect(snippet, 'README.md has a ```ts block starting with // verify-only.ts').toBeDefined();
    mkdirSync(join(root, '.tools'), { recursive: true });
    const dir = mkdtempSync(join(root, '.tools', 'verify-only-'));
    try {
      writeFileSync(join(dir, 'verify-only.ts'), snippet as string);
      const run = runProbed(
        [
          '--input-type=module',
          '-e',
          [
            "const { callerOf } = await import('./verify-only.ts');",
            "const none = await callerOf(new Request('http://127.0.0.1/mcp'));",
            "const bad = await callerOf(new Request('http://127.0.0.1/mcp', { headers: { authorization: 'Bearer not-a-jwt' } }));",
            'process.stdout.write(JSON.stringify([none ?? null, bad ?? null]));',
          ].join('\n'),
        ],
        { cwd: dir },
      );
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual([null, null]);
      expect(run.packages).toEqual(['jose']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('npm pack ships every file the exports map points at', () => {
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
    });
    expect(packed.status, packed.stderr).toBe(0);
    const [listing] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    const files = new Set(listing.files.map((file) => file.path));
    const targets = Object.values(exportsMap).flatMap((target) =>
      typeof target === 'string' ? [target] : [target.types, target.default],
    );
    expect(targets.filter((target) => !files.has(target.replace(/^\.\//, '')))).toEqual([]);
  }, 60_000);
});
