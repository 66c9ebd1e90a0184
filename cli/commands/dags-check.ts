/**
 * `flywheel dags check [--folder DIR] [--pool NAME…] [--json]`: a CI check for a DAG repository
 * (core/loader/dag-check.ts). It needs no PostgreSQL or Redis, so it reads no configuration
 * beyond DAGS_FOLDER and FLYWHEEL_POOLS.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DAGS_FOLDER } from '../../core/config.ts';
import { checkDags, type DagCheckReport, type DagProblem } from '../../core/loader/dag-check.ts';
import { DEFAULT_POOL_NAMES } from '../../core/pools.ts';
import { jsonOption, print } from '../support.ts';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** FLYWHEEL_POOLS: comma-separated pool names, blanks ignored. */
function poolsFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env.FLYWHEEL_POOLS ?? '').split(',').map((name) => name.trim()).filter(Boolean);
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** `file:line:column DAG "d", task "t": TS2322 message`, on one line (a TypeScript message chain joined). */
function problemLine(problem: DagProblem): string {
  const at = problem.line !== undefined ? `${problem.file}:${problem.line}:${problem.column ?? 1}` : problem.file;
  const owner = [problem.dagId !== undefined ? `DAG "${problem.dagId}"` : '', problem.taskId !== undefined ? `task "${problem.taskId}"` : ''].filter(Boolean).join(', ');
  const message = problem.message.split('\n').map((part) => part.trim()).join(' ');
  return `${at} ${owner ? `${owner}: ` : ''}${problem.code ? `${problem.code} ` : ''}${message}`;
}

function humanReport(report: DagCheckReport): string {
  return [...report.problems.map(problemLine), `${plural(report.files.length, 'DAG file')}, ${plural(report.dags.length, 'DAG')}, ${plural(report.problems.length, 'problem')}`].join('\n');
}

export function registerDagsCheckCommand(dags: Command): void {
  dags
    .command('check')
    .description('check the DAGs folder without a database: import errors, DAG definitions, types (tsc) and pools; exit 1 on any problem')
    .option('--folder <dir>', 'the DAGs folder (default: DAGS_FOLDER, else ./dags)')
    .option('--pool <name>', `a pool tasks may use, besides ${DEFAULT_POOL_NAMES.join(', ')} and those in FLYWHEEL_POOLS (comma-separated); repeatable`, collect)
    .addOption(jsonOption())
    .action(async (options: { folder?: string; pool?: string[]; json?: boolean }) => {
      // As core/config.ts reads DAGS_FOLDER, without loadConfig(): that would validate the
      // database and Redis settings this command never uses.
      const folder = path.resolve(options.folder ?? (process.env.DAGS_FOLDER || DEFAULT_DAGS_FOLDER));
      const pools = [...new Set([...DEFAULT_POOL_NAMES, ...poolsFromEnv(process.env), ...(options.pool ?? [])])];
      const report = await checkDags({ folder, pools });
      print(Boolean(options.json), report, () => humanReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
