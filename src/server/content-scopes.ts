/**
 * The scopes of prompt, resource and completion requests (`authorization.prompt_scopes` and
 * `authorization.resource_scopes`), from a request's parameters alone, so the HTTP layer can
 * answer `403 insufficient_scope` before any server is asked. Framework-free.
 *
 * @module
 */
import { UriTemplate } from '@modelcontextprotocol/server';

/** Whether `uri` matches the URI template `template` (RFC 6570); an ill-formed one matches none. */
export function matchesUriTemplate(template: string, uri: string): boolean {
  try {
    return new UriTemplate(template).match(uri) !== null;
  } catch {
    return false;
  }
}

/** Whether `uri` is `key` or matches `key` read as a URI template. */
function covers(key: string, uri: string): boolean {
  if (key === uri) return true;
  return key.includes('{') && matchesUriTemplate(key, uri);
}

/** Own entries of a scopes record (`constructor` is not a prompt). */
function ownEntries(record: Readonly<Record<string, readonly string[]>>) {
  return Object.keys(record)
    .filter((key) => Object.hasOwn(record, key))
    .map((key) => [key, record[key] ?? []] as const);
}

/**
 * The scopes a content request needs by `authorization.prompt_scopes` (by served prompt name) and
 * `authorization.resource_scopes` (by URI or URI template), from its parameters alone.
 */
export function contentScopes(
  promptScopes: Readonly<Record<string, readonly string[]>>,
  resourceScopes: Readonly<Record<string, readonly string[]>>,
): (method: string, params: unknown) => readonly string[] {
  const prompts = new Map(ownEntries(promptScopes));
  const resources = ownEntries(resourceScopes);
  const ofUri = (uri: string) =>
    resources.filter(([key]) => covers(key, uri)).flatMap(([, scopes]) => scopes);
  return (method, params) => {
    const p = (params ?? {}) as { name?: unknown; uri?: unknown; ref?: unknown };
    let scopes: readonly string[] = [];
    if (method === 'prompts/get' && typeof p.name === 'string') scopes = prompts.get(p.name) ?? [];
    if (
      (method === 'resources/read' || method === 'resources/subscribe') &&
      typeof p.uri === 'string'
    ) {
      scopes = ofUri(p.uri);
    }
    if (method === 'completion/complete' && p.ref !== null && typeof p.ref === 'object') {
      const ref = p.ref as { type?: unknown; name?: unknown; uri?: unknown };
      if (ref.type === 'ref/prompt' && typeof ref.name === 'string') {
        scopes = prompts.get(ref.name) ?? [];
      }
      if (ref.type === 'ref/resource' && typeof ref.uri === 'string') scopes = ofUri(ref.uri);
    }
    return [...new Set(scopes)];
  };
}
