/**
 * Loading the app module named by `app:` in the configuration (relative to the config file) or by
 * `--app` (relative to the working directory): JavaScript is imported as it is, TypeScript through
 * `tsx`. Its default export is the setup function (`export default defineApp((app) => …)`).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { McpAgentError } from '../errors.js';
import type { AppSetup } from './define.js';

function setupOf(module: unknown): AppSetup | undefined {
  let value = (module as { default?: unknown } | undefined)?.default;
  // A TypeScript module compiled as CommonJS nests the default export once more.
  if (value !== null && typeof value === 'object' && 'default' in value) {
    value = (value as { default: unknown }).default;
  }
  return typeof value === 'function' ? (value as AppSetup) : undefined;
}

/** Import the app module at `path` (resolved against `base`) and return its setup function. */
export async function loadAppModule(path: string, base: string): Promise<AppSetup> {
  const file = resolve(base, path);
  if (!existsSync(file)) {
    throw new McpAgentError('CONFIG_NOT_FOUND', `The app module ${file} does not exist.`);
  }
  let module: unknown;
  try {
    if (['.ts', '.mts', '.cts', '.tsx'].includes(extname(file))) {
      const { tsImport } = await import('tsx/esm/api');
      module = await tsImport(pathToFileURL(file).href, import.meta.url);
    } else {
      module = await import(pathToFileURL(file).href);
    }
  } catch (error) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The app module ${file} could not be loaded: ${error instanceof Error ? error.message.split('\n')[0] : 'unknown error'}`,
      { cause: error },
    );
  }
  const setup = setupOf(module);
  if (!setup) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The app module ${file} must export a setup function as default: export default defineApp((app) => { … }).`,
    );
  }
  return setup;
}
