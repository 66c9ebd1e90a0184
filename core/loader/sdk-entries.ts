import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One public entry of the `flywheel` package: `flywheel` or a subpath such as `flywheel/testing`. */
export interface SdkEntry {
  /** The import specifier a DAG file writes. */
  specifier: string;
  /** TypeScript source in this installation: what DAG files run against. */
  source: string;
  /** Declaration file of the built package (present once `npm pack` or `npm run build:sdk` ran). */
  types: string;
}

/** The condition under which `package.json` exports name the TypeScript source (tsconfig's `customConditions`). */
export const SOURCE_CONDITION = 'flywheel-source';

const PACKAGE_ROOT = new URL('../../', import.meta.url);

interface ConditionalExport {
  [SOURCE_CONDITION]?: string;
  types?: string;
}

/**
 * The SDK entries of the running installation, read from its `package.json` exports, so the
 * loader, `dags check` and the package itself never disagree on what `flywheel/...` means.
 */
export function sdkEntries(): SdkEntry[] {
  const manifest = JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { name: string; exports: Record<string, string | ConditionalExport> };
  const entries: SdkEntry[] = [];
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string' || !target[SOURCE_CONDITION] || !target.types) continue;
    entries.push({
      specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      source: fileURLToPath(new URL(target[SOURCE_CONDITION], PACKAGE_ROOT)),
      types: fileURLToPath(new URL(target.types, PACKAGE_ROOT)),
    });
  }
  return entries;
}
