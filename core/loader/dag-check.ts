/**
 * `flywheel dags check`: everything that can be found wrong with a DAGs folder without a
 * database or Redis (a CI check for a DAG repository). Each DAG file is imported as the
 * scheduler would (import errors, `dag()`'s own checks: cycles, unknown upstreams, bad cron or
 * timezone), type-checked against this installation's SDK, and each task's pool is looked up.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DagBag, isDagSource, listDagFiles, type DagImportErrorKind } from './dag-bag.ts';
import { typeCheckDagFiles } from './type-check.ts';

/** What is wrong: a load failure (see DagImportErrorKind), the folder itself, a type error, or an unknown pool. */
export type DagProblemKind = DagImportErrorKind | 'folder' | 'type' | 'pool';

/** One thing wrong with the DAGs folder. Paths are relative to the working directory. */
export interface DagProblem {
  kind: DagProblemKind;
  /** The file, or for a problem of the whole check, the tsconfig.json or the DAGs folder. */
  file: string;
  /** 1-based; known for type problems. */
  line?: number;
  /** 1-based; known for type problems. */
  column?: number;
  dagId?: string;
  taskId?: string;
  /** The TypeScript diagnostic code (`TS2322`) of a type problem. */
  code?: string;
  /** What is wrong, without the file, DAG or task in front (they are the fields above). */
  message: string;
}

export interface DagCheckOptions {
  /** The DAGs folder; a relative path is resolved against the working directory. */
  folder: string;
  /** The pools a task may name; a task in any other pool is a problem (a queue no worker takes). */
  pools: readonly string[];
}

export interface DagCheckReport {
  /** No problems. */
  ok: boolean;
  folder: string;
  /** The files DagBag imports as DAG files (helper modules beside them are type-checked but not listed). */
  files: string[];
  /** The DAGs that loaded, by dagId. */
  dags: { dagId: string; fileloc: string; tasks: number }[];
  /** Sorted by file, then position. */
  problems: DagProblem[];
}

const relative = (file: string): string => path.relative(process.cwd(), file) || '.';

/** Checks every DAG file of `options.folder`. A query: it prints nothing and never exits. */
export async function checkDags(options: DagCheckOptions): Promise<DagCheckReport> {
  const folder = path.resolve(options.folder);
  const folderProblem = await checkFolder(folder);
  if (folderProblem) return { ok: false, folder: relative(folder), files: [], dags: [], problems: [folderProblem] };

  const candidates = await listDagFiles(folder);
  const dagFiles: string[] = [];
  for (const file of candidates) if (isDagSource(await readFile(file, 'utf8'))) dagFiles.push(file);

  const bag = await new DagBag({ folder }).load();
  const problems: DagProblem[] = bag.errors.map((error) => ({
    kind: error.kind,
    file: relative(error.file),
    ...ids(error.dagId, error.taskId),
    message: withoutLocation(error.reason, error.dagId, error.taskId),
  }));

  const known = new Set(options.pools);
  for (const dag of bag.list()) {
    for (const task of dag.tasks.values()) {
      if (known.has(task.pool)) continue;
      problems.push({
        kind: 'pool',
        file: relative(dag.fileloc ?? folder),
        dagId: dag.dagId,
        taskId: task.taskId,
        message: `unknown pool "${task.pool}" (known pools: ${[...known].join(', ') || 'none'})`,
      });
    }
  }

  // A type error outside any dag(...) call (an import, a helper function) still belongs to the
  // DAG its file defines.
  const dagIdByFile = new Map(bag.list().map((dag) => [dag.fileloc, dag.dagId]));
  const typed = await typeCheckDagFiles({ folder, files: candidates });
  for (const problem of typed.problems) {
    const file = problem.file ?? typed.configFile ?? folder;
    problems.push({
      kind: 'type',
      file: relative(file),
      ...(problem.line !== undefined ? { line: problem.line, column: problem.column } : {}),
      ...ids(problem.dagId ?? dagIdByFile.get(file), problem.taskId),
      ...(problem.code ? { code: problem.code } : {}),
      message: problem.message,
    });
  }

  problems.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return {
    ok: problems.length === 0,
    folder: relative(folder),
    files: dagFiles.map(relative),
    dags: bag.list().map((dag) => ({ dagId: dag.dagId, fileloc: relative(dag.fileloc ?? folder), tasks: dag.tasks.size })),
    problems,
  };
}

async function checkFolder(folder: string): Promise<DagProblem | null> {
  try {
    if ((await stat(folder)).isDirectory()) return null;
    return { kind: 'folder', file: relative(folder), message: `the DAGs folder ${folder} is not a directory` };
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
    return { kind: 'folder', file: relative(folder), message: `the DAGs folder ${folder} does not exist` };
  }
}

function ids(dagId: string | undefined, taskId: string | undefined): { dagId?: string; taskId?: string } {
  return { ...(dagId !== undefined ? { dagId } : {}), ...(taskId !== undefined ? { taskId } : {}) };
}

/** A DagDefinitionError's message less its `DAG "x", task "y": ` prefix, which the problem carries as fields. */
function withoutLocation(message: string, dagId: string | undefined, taskId: string | undefined): string {
  if (dagId === undefined) return message;
  const prefix = `DAG "${dagId}"${taskId !== undefined ? `, task "${taskId}"` : ''}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
