/**
 * The TypeScript snippets of the README and docs/ are code a reader copies: each block that
 * imports `mcp-agent-ts` is type-checked, as a module of its own, against the package as built
 * (`dist/`, through the package's own `exports`: the files sit inside the package, so the name
 * resolves to itself), with strict compiler options. A block whose first line is `// NAME.ts`
 * is written under that name, so that a later block can import it (`./NAME.js`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { builtFile, testWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every ```ts block that imports the package, with where it stands. */
function snippets(): { where: string; code: string }[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`)];
  const found: { where: string; code: string }[] = [];
  for (const file of files.filter((name) => name.endsWith('.md'))) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
      const code = match[1] ?? '';
      if (!/from 'mcp-agent-ts(\/[\w-]+)?'/.test(code)) continue;
      const line = text.slice(0, match.index).split('\n').length;
      found.push({ where: `${file}:${line}`, code });
    }
  }
  return found;
}

let work: string | undefined;
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

testWith(builtFile('dist/index.d.ts'))(
  'every TypeScript snippet of the README and docs/ that imports mcp-agent-ts type-checks',
  () => {
    const found = snippets();
    expect(found.length).toBeGreaterThanOrEqual(5);
    mkdirSync(join(root, '.tools'), { recursive: true });
    work = mkdtempSync(join(root, '.tools', 'snippets-'));
    const names = found.map(({ code }, index) => {
      const name = /^\/\/ ([\w-]+\.ts)\n/.exec(code)?.[1] ?? `snippet-${index}.ts`;
      // Top-level await and declarations of their own: each snippet is a module.
      writeFileSync(join(work as string, name), `${code}\nexport {};\n`);
      return name;
    });
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: names,
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work],
      { encoding: 'utf8', timeout: 60_000 },
    );
    // Name each failing snippet by its place in the docs.
    const report = tsc.stdout.replace(/[^\s]*snippet-(\d+)\.ts/g, (_, index: string) => {
      return found[Number(index)]?.where ?? 'snippet';
    });
    expect(report).toBe('');
    expect(tsc.status).toBe(0);
  },
  60_000,
);

test('every script a person runs (createAgentAuth, then top-level await) can complete a first login', () => {
  // The default consent hands a login over as an error: a script that neither asks the person
  // (a consent) nor catches the hand-over and completes it fails on its first run, and with the
  // default in-memory token store nothing else can complete it.
  const scripts = snippets().filter(
    ({ code }) => /createAgentAuth\(/.test(code) && /^(const|export const) .*= await /m.test(code),
  );
  expect(scripts.length).toBeGreaterThanOrEqual(6);
  const stranded = scripts
    .filter(({ code }) => !/consent:/.test(code) && !/completeLogin\(/.test(code))
    .map(({ where }) => where);
  expect(stranded).toEqual([]);
});
