/**
 * CLI commands for the source data: `flywheel seed` and `flywheel import interactions|items`.
 * Bad input (options, rows, non-empty tables) prints `error: …` on stderr and exits 2; with
 * `--json` a machine-readable report goes to stdout as well.
 */
import type { Command } from 'commander';
import { cliActor, jsonOption, print, withDatabase } from '../support.ts';
import type { SourceAudit } from '../../daily-picks/source/audit.ts';
import { SourceInputError } from '../../daily-picks/source/errors.ts';
import { importInteractions, importItems, type ImportSummary } from '../../daily-picks/source/import-csv.ts';
import { seedSource, type SeedSummary } from '../../daily-picks/source/seed.ts';

/** Source writes from the CLI are audited as `cli:<OS user>`. */
const cliAudit = (): SourceAudit => ({ actor: cliActor(), auth: 'cli' });

/** Runs a command body with a database pool; SourceInputError → exit 2 with its report. */
async function run(json: boolean, work: (pool: import('pg').Pool) => Promise<void>): Promise<void> {
  try {
    await withDatabase(({ pool }) => work(pool));
  } catch (caught) {
    let error = caught;
    const code = (caught as { code?: string }).code;
    if (code === '3F000' || code === '42P01') {
      // No schema `source` / no table yet.
      error = new SourceInputError('the database has no source tables yet: run `flywheel db migrate` first');
    }
    if (!(error instanceof SourceInputError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ error: error.message, ...error.details }, null, 2)}\n`);
    process.exitCode = 2;
  }
}

/** A raw option value → integer; a bad value becomes a SourceInputError (exit 2) in the action, not commander's exit 1. */
function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new SourceInputError(`--${name}: "${value}" is not an integer ≥ ${min}`);
  return n;
}

function untilDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw new SourceInputError(`--until: "${value}" is not an ISO 8601 date`);
  return date;
}

function seedLine(s: SeedSummary): string {
  const k = s.memberKinds;
  return [
    `seeded ${s.members} members, ${s.instructors} instructors, ${s.classes} classes, ${s.workouts} workouts in ${s.seconds} s`,
    `  window ${s.windowStart} – ${s.until} (${s.days} days), seed ${s.seed}${s.replaced ? ', replaced the previous source data' : ''}`,
    `  members: ${k.active ?? 0} regular, ${k.new ?? 0} joined in the window, ${k.churned ?? 0} churned, ${k.inactive ?? 0} inactive 60+ days, ${k.cold ?? 0} cold start`,
  ].join('\n');
}

function importLine(s: ImportSummary): string {
  const parts = [`imported ${s.rows} rows from ${s.file} in ${s.seconds} s`];
  if (s.kind === 'interactions') {
    parts.push(`  ${s.workouts} workouts, ${s.membersAdded} new members, ${s.placeholderClasses} placeholder classes for unknown items`);
    if (s.placeholdersRemoved > 0) parts.push(`  ${s.placeholdersRemoved} placeholder classes no interaction references any more removed`);
    if (s.firstAt !== null && s.lastAt !== null) {
      parts.push(`  interactions from ${s.firstAt} to ${s.lastAt} (a run as of any later time reads them all; \`dags test daily_picks --logical-date\` sets the as-of time)`);
    }
  } else {
    parts.push(`  ${s.classesAdded} new classes, ${s.classesUpdated} updated, ${s.instructorsAdded} new instructors`);
    if (s.duplicateIds > 0) parts.push(`  ${s.duplicateIds} rows repeated an earlier item id (the last one wins)`);
    if (s.placeholderClasses > 0) parts.push(`  ${s.placeholderClasses} placeholder classes for workouts whose item is not in the file`);
  }
  if (s.replaced) parts.push(`  replaced ${s.replacedTables.join(', ')}`);
  return parts.join('\n');
}

export function registerSourceCommands(program: Command): void {
  program
    .command('seed')
    .description('fill the source tables with a generated connected-fitness platform (deterministic for a seed)')
    .requiredOption('--members <n>', 'members')
    .requiredOption('--classes <n>', 'classes in the catalogue')
    .requiredOption('--days <n>', 'days of workout history before --until')
    .option('--seed <n>', 'random seed (same options and seed → identical data)', '1')
    .option('--until <date>', 'end of the window, exclusive (default: today 00:00 UTC)')
    .option('--replace', 'empty the source tables first (in the same transaction)')
    .addOption(jsonOption())
    .action(async (options: { members: string; classes: string; days: string; seed: string; until?: string; replace?: boolean; json?: boolean }) => {
      const json = Boolean(options.json);
      await run(json, async (pool) => {
        const until = untilDate(options.until);
        const summary = await seedSource(pool, {
          members: integer('members', options.members, 1)!,
          classes: integer('classes', options.classes, 1)!,
          days: integer('days', options.days, 1)!,
          seed: integer('seed', options.seed, 0)!,
          ...(until ? { until } : {}),
          replace: Boolean(options.replace),
          audit: cliAudit(),
        });
        print(json, summary, () => seedLine(summary));
      });
    });

  const imports = program.command('import').description('bring your own data: CSV files into the source tables');
  imports
    .command('interactions')
    .description('workouts (member, item, time) from a CSV file with a header row')
    .requiredOption('--file <path>', 'CSV file')
    .requiredOption('--user-col <name>', 'column with the member id')
    .requiredOption('--item-col <name>', 'column with the class (item) id')
    .requiredOption('--time-col <name>', 'column with the time: unix seconds or ISO 8601')
    .option('--replace', 'empty source.workout and source.member first (in the same transaction)')
    .addOption(jsonOption())
    .action(async (options: { file: string; userCol: string; itemCol: string; timeCol: string; replace?: boolean; json?: boolean }) => {
      const json = Boolean(options.json);
      await run(json, async (pool) => {
        const summary = await importInteractions(pool, {
          file: options.file,
          userCol: options.userCol,
          itemCol: options.itemCol,
          timeCol: options.timeCol,
          replace: Boolean(options.replace),
          audit: cliAudit(),
        });
        print(json, summary, () => importLine(summary));
      });
    });
  imports
    .command('items')
    .description('classes (items) from a CSV file with a header row; upserts over existing and placeholder classes')
    .requiredOption('--file <path>', 'CSV file')
    .requiredOption('--item-col <name>', 'column with the class (item) id')
    .option('--title-col <name>', 'column with the title (default: the id)')
    .option('--category-col <name>', 'column with the category (→ discipline)')
    .option('--duration-col <name>', 'column with the duration in minutes')
    .option('--creator-col <name>', 'column with the creator (→ an instructor with that id and name)')
    .option('--replace', 'empty source.class and source.instructor first (in the same transaction)')
    .addOption(jsonOption())
    .action(
      async (options: { file: string; itemCol: string; titleCol?: string; categoryCol?: string; durationCol?: string; creatorCol?: string; replace?: boolean; json?: boolean }) => {
        const json = Boolean(options.json);
        await run(json, async (pool) => {
          const summary = await importItems(pool, {
            file: options.file,
            itemCol: options.itemCol,
            ...(options.titleCol !== undefined ? { titleCol: options.titleCol } : {}),
            ...(options.categoryCol !== undefined ? { categoryCol: options.categoryCol } : {}),
            ...(options.durationCol !== undefined ? { durationCol: options.durationCol } : {}),
            ...(options.creatorCol !== undefined ? { creatorCol: options.creatorCol } : {}),
            replace: Boolean(options.replace),
            audit: cliAudit(),
          });
          print(json, summary, () => importLine(summary));
        });
      },
    );
}
