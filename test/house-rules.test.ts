import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

const files = sources(src).map((file) => ({
  path: relative(src, file),
  text: readFileSync(file, 'utf8'),
}));

test('the library never writes to the console or exits the process (only src/cli does)', () => {
  const offenders = files
    .filter((file) => !file.path.startsWith('cli/'))
    .filter((file) =>
      /console\.(log|error|warn|info|debug)|process\.exit\(|process\.(stdout|stderr)\.write/.test(
        file.text,
      ),
    )
    .map((file) => file.path);
  expect(offenders).toEqual([]);
});

test('CLI commands write only through Output, which names where each line goes', () => {
  // DESIGN.md, "The CLI contract": results on stdout, everything else on stderr.
  const offenders = files
    .filter((file) => file.path.startsWith('cli/') && file.path !== 'cli/io.ts')
    .filter((file) => /\.(stdout|stderr)\.write\(|console\./.test(file.text))
    .map((file) => file.path);
  expect(offenders).toEqual([]);
});

test('no export * and no source file over 600 lines', () => {
  expect(
    files.filter((file) => /^export \* from/m.test(file.text)).map((file) => file.path),
  ).toEqual([]);
  expect(
    files.filter((file) => file.text.split('\n').length > 600).map((file) => file.path),
  ).toEqual([]);
});

test('every exported function, class and constant has a doc comment', () => {
  const undocumented: string[] = [];
  for (const file of files) {
    const lines = file.text.split('\n');
    lines.forEach((line, index) => {
      if (!/^export (async )?(function|class|const|interface|type) [A-Za-z]/.test(line)) return;
      let previous = index - 1;
      while (previous >= 0 && /^\s*$/.test(lines[previous] ?? '')) previous--;
      if (!/\*\/\s*$/.test(lines[previous] ?? '')) undocumented.push(`${file.path}:${index + 1}`);
    });
  }
  expect(undocumented).toEqual([]);
});

/** The `src/`-relative module each runtime (not `import type`) import of `file` names. */
function runtimeImports(file: { path: string; text: string }): string[] {
  const out: string[] = [];
  for (const match of file.text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = match[1] ?? '';
    out.push(join(file.path, '..', target).replaceAll('\\', '/'));
  }
  return out;
}

test('the layers of DESIGN.md: each folder imports (at run time) only what its row allows', () => {
  const allowed: [RegExp, RegExp][] = [
    // folder → modules it may import at run time
    [/^config\//, /^(config\/|errors\.js)/],
    [/^stores\//, /^(stores\/|config\/|errors\.js|logger\.js)/],
    [/^oauth\/protocol\//, /^(oauth\/protocol\/|config\/|errors\.js|fetch\.js|logger\.js)/],
    [/^oauth\//, /^(oauth\/|stores\/|config\/|errors\.js|fetch\.js|logger\.js|html\.js)/],
    [/^servers\//, /^(servers\/|oauth\/auth-fetch\.js|config\/|errors\.js|fetch\.js|logger\.js)/],
    [/^server\//, /^(server\/|stores\/|config\/|errors\.js|fetch\.js|logger\.js|http-server\.js)/],
    // The outbound layer in one call (createAgentAuth): what the CLI builds, under app/ and cli/.
    // server/identity.js only for principalOf (a caller's token-store identity).
    [
      /^client\//,
      /^(client\/|oauth\/|servers\/|stores\/|credentials\/|config\/|server\/identity\.js|errors\.js|fetch\.js|logger\.js)/,
    ],
    // The server middleware: the inbound parts of server/, and the settings it is configured by.
    [/^middleware\//, /^(middleware\/|server\/|config\/|errors\.js)/],
    // http-server.js is a leaf (node:http only): the servers we listen with and their limits.
    [/^dev\//, /^(dev\/|config\/|errors\.js|logger\.js|http-server\.js|html\.js)/],
    // The shared look and headers of HTML pages: a leaf.
    [/^html\.ts$/, /^$/],
  ];
  const offenders: string[] = [];
  for (const file of files) {
    const rule = allowed.find(([folder]) => folder.test(file.path));
    if (!rule) continue;
    for (const target of runtimeImports(file)) {
      if (!rule[1].test(target)) offenders.push(`${file.path} → ${target}`);
    }
  }
  expect(offenders).toEqual([]);
});

test('a misuse is one codedTypeError (style.md §2.5), not a TypeError given its code by hand', () => {
  const offenders = files
    .filter((file) => file.path !== 'errors.ts')
    .filter((file) => /Object\.assign\(\s*new TypeError/.test(file.text))
    .map((file) => file.path);
  expect(offenders).toEqual([]);
});
