/**
 * The recipes of docs/middleware.md are the tested code: every file of examples/middleware/
 * (which the adapter tests run) stands in the doc as one ```ts block, to the character, its first
 * line `// NAME.ts` (the name test/docs/snippets.test.ts type-checks it under).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

const root = new URL('../../', import.meta.url);

test('each file of examples/middleware/ is a block of docs/middleware.md, as it stands', () => {
  const doc = readFileSync(new URL('docs/middleware.md', root), 'utf8');
  const blocks = new Map<string, string>();
  for (const match of doc.matchAll(/^```ts\n(\/\/ ([\w-]+\.ts)\n[\s\S]*?)^```$/gm)) {
    blocks.set(match[2] as string, match[1] as string);
  }
  const examples = readdirSync(new URL('examples/middleware/', root)).filter((name) =>
    name.endsWith('.ts'),
  );
  expect(examples.length).toBe(7);
  for (const name of examples) {
    const file = readFileSync(new URL(`examples/middleware/${name}`, root), 'utf8');
    expect(blocks.get(name), `docs/middleware.md has no block "// ${name}"`).toBeDefined();
    expect(blocks.get(name), `the block of ${name} differs from the file`).toBe(file);
  }
});
