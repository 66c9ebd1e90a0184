/**
 * Node module hooks for DAG files (registered by `register.js`, run in Node's loader thread).
 *
 * - `flywheel` and its subpaths resolve to this installation's SDK source from any folder, so
 *   a DAGs folder outside the checkout needs no `node_modules/flywheel`, and a DAG file always
 *   builds its DAG with the same `dag`/`task` the scheduler and workers run (one module
 *   instance, whatever version the DAG repository installed for its editor).
 * - A `.ts` file whose nearest `package.json` does not declare a module type loads as an ES
 *   module: DAG files are written with `import`/`export`, and Node 20 would otherwise take a
 *   folder without a `package.json` as CommonJS and fail on them.
 */
import { readFileSync } from 'node:fs';
import type { ResolveHookContext, ResolveFnOutput } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sdkEntries } from './sdk-entries.ts';

type NextResolve = (specifier: string, context?: ResolveHookContext) => ResolveFnOutput | Promise<ResolveFnOutput>;

const SDK_URLS = new Map(sdkEntries().map((entry) => [entry.specifier, pathToFileURL(entry.source).href]));
const TYPESCRIPT_FILE = /^file:[^?#]*\.tsx?(?:[?#]|$)/;

export async function resolve(specifier: string, context: ResolveHookContext, nextResolve: NextResolve): Promise<ResolveFnOutput> {
  const sdk = SDK_URLS.get(specifier);
  if (sdk) return { url: sdk, format: 'module', shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  if (resolved.format !== 'module' && TYPESCRIPT_FILE.test(resolved.url) && !resolved.url.includes('/node_modules/')) {
    if (declaredModuleType(fileURLToPath(resolved.url.replace(/[?#].*$/, ''))) === undefined) return { ...resolved, format: 'module' };
  }
  return resolved;
}

/** The `type` of the nearest package.json above `file` (undefined when none declares one). */
function declaredModuleType(file: string): string | undefined {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    let text: string | undefined;
    try {
      text = readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      // no package.json here: look further up
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
