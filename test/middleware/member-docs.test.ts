/**
 * Every member of an interface that the middleware entries (`mcp-agent-ts/middleware`, the
 * adapters) and `mcp-agent-ts/server` export has a doc comment: what an option means, its unit
 * and default, are read where the option is written (review 16 #17: `McpAuthOptions.now` gave no
 * unit, `HttpAnswer` and `AuthInfo` fields none). Read with the TypeScript compiler, so re-exports
 * are followed to the declaration.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ENTRIES = [
  ...['index', 'express', 'hono', 'fastify', 'node', 'web'].map(
    (name) => `src/middleware/${name}.ts`,
  ),
  'src/server/index.ts',
];

/** `file:line Interface.member` of each undocumented member of an interface `entries` export. */
function undocumented(entries: readonly string[]): string[] {
  const program = ts.createProgram(
    entries.map((entry) => `${root}${entry}`),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const found = new Set<string>();
  for (const entry of entries) {
    const source = program.getSourceFile(`${root}${entry}`);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${entry} was not read`);
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const declaration of symbol.declarations ?? []) {
        if (!ts.isInterfaceDeclaration(declaration)) continue;
        const file = declaration.getSourceFile();
        if (!file.fileName.startsWith(`${root}src/`)) continue;
        for (const member of declaration.members) {
          const name = member.name?.getText(file) ?? '(call)';
          const documented = ts.getJSDocCommentsAndTags(member).length > 0;
          if (documented) continue;
          const { line } = file.getLineAndCharacterOfPosition(member.getStart(file));
          found.add(`${file.fileName.slice(root.length)}:${line + 1} ${symbol.name}.${name}`);
        }
      }
    }
  }
  return [...found].sort();
}

test('every member of an interface the middleware and server entries export is documented', () => {
  expect(undocumented(ENTRIES)).toEqual([]);
}, 60_000);
