import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FlywheelError } from '../errors.ts';
import { Dag } from '../sdk/dag.ts';

/** Why a DAG file was not loaded: it failed to import, `dag()` rejected it, it exports no DAG, or its dagId is taken. */
export type DagImportErrorKind = 'import' | 'definition' | 'no-dag' | 'duplicate-dag';

/** A DAG file that could not be loaded, and why (the message names the file and, where known, the task). */
export interface DagImportError {
  file: string;
  message: string;
  kind: DagImportErrorKind;
  /** The message without the file in front, for reports that show the file on their own. */
  reason: string;
  /** The DAG concerned, where known (from a DagDefinitionError, or the duplicated dagId). */
  dagId?: string;
  /** The task concerned, where a DagDefinitionError names one. */
  taskId?: string;
}

export interface DagBagOptions {
  /** Folder scanned recursively for DAG files. */
  folder: string;
  /**
   * `require()` re-reads the folder when the last load is older than this, so long-running
   * workers pick up edited DAG files.
   * @defaultValue 30000
   */
  maxAgeMs?: number;
}

const DAG_FILE = /\.(ts|mts|js|mjs)$/;
const SKIPPED_FILE = /(\.d\.ts|\.test\.ts|\.spec\.ts)$/;

function isDag(value: unknown): value is Dag {
  return value instanceof Dag || (typeof value === 'object' && value !== null && value.constructor?.name === 'Dag' && 'tasks' in value);
}

/**
 * The DAGs defined in a folder, loaded from TypeScript at run time. A file that fails to load
 * is reported in `errors` and the others still load. Like Airflow's safe mode, only files that
 * mention both `dag` and `flywheel` are imported, so helper modules can sit beside DAGs.
 */
export class DagBag {
  private dags = new Map<string, Dag>();
  private loadedVersions = new Map<string, number>();
  private loadedAt = 0;
  private loading: Promise<this> | null = null;
  errors: DagImportError[] = [];

  constructor(private readonly options: DagBagOptions) {}

  get folder(): string {
    return this.options.folder;
  }

  /** (Re)loads every DAG file; unchanged files keep their loaded module. Concurrent calls share one load. */
  load(): Promise<this> {
    this.loading ??= this.loadNow().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async loadNow(): Promise<this> {
    const started = Date.now();
    const files = await listDagFiles(this.options.folder);
    const dags = new Map<string, Dag>();
    const errors: DagImportError[] = [];
    const previousByFile = new Map<string, Dag>();
    for (const existing of this.dags.values()) if (existing.fileloc) previousByFile.set(existing.fileloc, existing);
    for (const file of files) {
      let loaded: Dag;
      try {
        if (!isDagSource(await readFile(file, 'utf8'))) continue;
        const version = (await stat(file)).mtimeMs;
        const previous = previousByFile.get(file);
        if (previous && this.loadedVersions.get(file) === version) {
          loaded = previous;
        } else {
          loaded = await importDagFile(file, version);
          this.loadedVersions.set(file, version);
        }
      } catch (error) {
        const reason = describe(error);
        errors.push({ file, message: `${path.relative(process.cwd(), file) || file}: ${reason}`, reason, ...classify(error) });
        continue;
      }
      const clash = dags.get(loaded.dagId);
      if (clash) {
        errors.push({
          file,
          message: `${file}: dagId "${loaded.dagId}" is already defined in ${clash.fileloc}`,
          kind: 'duplicate-dag',
          reason: `dagId "${loaded.dagId}" is already defined in ${clash.fileloc ? path.relative(process.cwd(), clash.fileloc) || clash.fileloc : 'another file'}`,
          dagId: loaded.dagId,
        });
        continue;
      }
      dags.set(loaded.dagId, loaded);
    }
    this.dags = dags;
    this.errors = errors;
    this.loadedAt = started;
    return this;
  }

  get(dagId: string): Dag | undefined {
    return this.dags.get(dagId);
  }

  /**
   * The DAG, reloading the folder when the last load is stale or the DAG is not known (a file
   * added since). A `not_found` FlywheelError when it is not defined, or the folder cannot be read.
   * Its message names the folder and the failing file (for the CLI, on the operator's machine);
   * its `publicMessage`, which the web API sends, names neither: server paths are not for callers.
   */
  async require(dagId: string): Promise<Dag> {
    try {
      if (Date.now() - this.loadedAt > (this.options.maxAgeMs ?? 30_000)) await this.load();
      const known = this.dags.get(dagId);
      if (known) return known;
      await this.load();
    } catch (error) {
      throw new FlywheelError('not_found', error instanceof Error ? error.message : String(error), {
        publicMessage: `DAG "${dagId}" is not defined (the DAGs folder cannot be read)`,
      });
    }
    const reloaded = this.dags.get(dagId);
    if (!reloaded) {
      const error = this.errors.find((e) => e.message.includes(`"${dagId}"`));
      throw new FlywheelError('not_found', `DAG "${dagId}" is not defined in ${this.options.folder}${error ? ` (${error.message})` : ''}`, {
        publicMessage: `DAG "${dagId}" is not defined${error ? ' (a DAG file that mentions it failed to load: see the import errors)' : ''}`,
      });
    }
    return reloaded;
  }

  list(): Dag[] {
    return [...this.dags.values()].sort((a, b) => a.dagId.localeCompare(b.dagId));
  }
}

/** Imports one DAG file and returns its default export; throws naming the file. */
export async function importDagFile(file: string, version: number = Date.now()): Promise<Dag> {
  // The query string gives a changed file a fresh module instead of the cached one. No `.` in it:
  // `mtimeMs` is fractional, and Vite (vitest) reads a trailing `.123` as the file's extension
  // and then parses the TypeScript file as plain JavaScript.
  const module = (await import(`${pathToFileURL(file).href}?v=${String(version).replace('.', '_')}`)) as { default?: unknown };
  if (!isDag(module.default)) {
    throw new NoDagExportError('has no default export of dag(...)');
  }
  module.default.fileloc = file;
  return module.default;
}

/** A file that imports but does not export a DAG: told apart from import failures in {@link DagImportError.kind}. */
class NoDagExportError extends Error {
  override readonly name = 'NoDagExportError';
}

/**
 * The kind of a load failure and, for a DagDefinitionError, its DAG and task. Duck-typed on the
 * name: the DAG file's `flywheel` may be another module instance than this file's `../sdk`.
 */
function classify(error: unknown): Pick<DagImportError, 'kind' | 'dagId' | 'taskId'> {
  if (error instanceof NoDagExportError) return { kind: 'no-dag' };
  if (!(error instanceof Error) || error.name !== 'DagDefinitionError') return { kind: 'import' };
  const { dagId, taskId } = error as { dagId?: unknown; taskId?: unknown };
  return { kind: 'definition', ...(typeof dagId === 'string' ? { dagId } : {}), ...(typeof taskId === 'string' ? { taskId } : {}) };
}

/**
 * Whether DagBag imports a file with this source. Like Airflow's safe mode, only files that
 * mention both `dag` and `flywheel` are imported, so helper modules can sit beside DAGs.
 */
export function isDagSource(source: string): boolean {
  return /dag/i.test(source) && source.includes('flywheel');
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n').slice(0, 3).join(' ').trim() || error.name;
  return String(error);
}

/**
 * Every candidate DAG file under `folder` (recursively, in name order): `.ts`/`.mts`/`.js`/`.mjs`
 * files except declarations and tests, skipping `.`/`_`-prefixed names and `node_modules`. A
 * missing folder has none. DagBag imports those {@link isDagSource} accepts.
 */
export async function listDagFiles(folder: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name.startsWith('_') || entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (DAG_FILE.test(entry.name) && !SKIPPED_FILE.test(entry.name)) found.push(full);
    }
  };
  await walk(path.resolve(folder));
  return found;
}
