import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { FileKeyValueStore } from '../../src/stores/file.js';
import { tempTree } from '../helpers/cli.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

test('taking over a stale lock keeps writers exclusive: one create wins each round', async () => {
  tree = tempTree();
  for (let round = 0; round < 20; round++) {
    const path = join(tree.dir, `tokens-${round}.json`);
    // A lock left by a process that no longer exists.
    writeFileSync(`${path}.lock`, '999999 dead');
    const stores = Array.from({ length: 8 }, () => new FileKeyValueStore({ path }));
    const versions = await Promise.all(
      stores.map((store, i) => store.set('k', `writer-${i}`, { expectVersion: null })),
    );
    expect(versions.filter((version) => version === 1)).toHaveLength(1);
  }
});
