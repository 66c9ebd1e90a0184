/**
 * `flywheel simulate --days N [--experiment KEY]`: simulated members who respond to their picks,
 * day after day, through the real daily runs and picks API (cli/simulate.ts).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { FlywheelError } from '../../core/errors.ts';
import { parseVariants } from '../../daily-picks/experiments/store.ts';
import { DEFAULT_VARIANTS, runSimulation, type SimulatedDay, type SimulationSummary } from '../simulate.ts';
import { jsonOption } from '../support.ts';
import { showReport } from './experiments.ts';

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`"${value}" is not an integer ≥ ${min}`);
    return n;
  };
}

function dayLine(d: SimulatedDay, days: number): string {
  const failed = d.failedRequests > 0 ? ` (${d.failedRequests} requests failed, the first: ${d.firstError})` : '';
  return (
    `day ${String(d.day).padStart(String(days).length)}/${days} ${d.startAt.slice(0, 16).replace('T', ' ')}Z  run ${d.runState} in ${d.runSeconds.toFixed(1)} s · ` +
    `${d.served} members served${failed} · ${d.pickedWorkouts} picked-class workouts, ${d.organicWorkouts} organic · ${d.ignored} picks ignored · ${d.simulateSeconds.toFixed(1)} s`
  );
}

function summaryLines(s: SimulationSummary): string {
  const lines = [
    '',
    `simulated ${s.days.length} days from ${s.startAt} to ${s.endAt} (${s.dagId}); ${s.finalConversions} conversions attributed at the end`,
    `picked-class workouts ${s.days.reduce((a, d) => a + d.pickedWorkouts, 0)}, organic ${s.days.reduce((a, d) => a + d.organicWorkouts, 0)}`,
  ];
  if (s.report) lines.push('', showReport(s.report));
  else if (!s.experiment) lines.push('(no --experiment: nothing to report; `flywheel experiments list` shows the experiments that ran)');
  return lines.join('\n');
}

export function registerSimulateCommands(program: Command): void {
  program
    .command('simulate')
    .description('seed a platform whose members respond to their picks, then run N simulated days: the daily run, the picks API, the members’ workouts written back; report the experiment')
    .requiredOption('--days <n>', 'simulated days (one daily run each)', integer(1))
    .option('--experiment <key>', 'experiment to create (when absent) from the first simulated day, and report at the end')
    .option('--variants <list>', 'the experiment’s variants, KEY:WEIGHT,… (the first is the baseline)', DEFAULT_VARIANTS.map((v) => `${v.key}:${v.weight}`).join(','))
    .option('--members <n>', 'members to generate', integer(1), 3000)
    .option('--classes <n>', 'classes to generate', integer(1), 800)
    .option('--history-days <n>', 'days of generated history before the first simulated day', integer(1), 90)
    .option('--seed <n>', 'random seed: the same seed (and the same picks) gives the same workouts', integer(0), 1)
    .option('--dag <dagId>', 'the DAG run each day', 'daily_picks')
    .option('--concurrency <n>', 'picks requests in flight at once', integer(1), 16)
    .option('--replace', 'empty the source and feedback tables first (and re-create the experiment): they describe the data being replaced')
    .addOption(jsonOption())
    .action(
      async function (this: Command, options: {
        days: number;
        experiment?: string;
        variants: string;
        members: number;
        classes: number;
        historyDays: number;
        seed: number;
        dag: string;
        concurrency: number;
        replace?: boolean;
        json?: boolean;
      }) {
        if (!options.experiment && this.getOptionValueSource('variants') === 'cli') throw new FlywheelError('invalid', '--variants needs --experiment (the variants are that experiment’s)');
        const config = loadConfig();
        // The workers' info logs would bury the day lines; FLYWHEEL_LOG_LEVEL still wins when set.
        const quiet = process.env.FLYWHEEL_LOG_LEVEL ? config : { ...config, logLevel: 'warn' as const };
        const json = Boolean(options.json);
        const progress = json ? process.stderr : process.stdout;
        const summary = await runSimulation(quiet, {
          days: options.days,
          experiment: options.experiment ?? null,
          variants: parseVariants(options.variants),
          members: options.members,
          classes: options.classes,
          historyDays: options.historyDays,
          seed: options.seed,
          dagId: options.dag,
          concurrency: options.concurrency,
          replace: Boolean(options.replace),
          // With --json stdout carries the summary alone; the progress goes to stderr.
          onSeeded: (s, startAt) =>
            progress.write(`seeded ${s.members} members, ${s.classes} classes, history until ${startAt.toISOString()} (seed ${s.seed}); ${options.days} simulated days of ${options.dag}${options.experiment ? `, experiment ${options.experiment}` : ''}\n`),
          onDay: (day) => progress.write(`${dayLine(day, options.days)}\n`),
        });
        process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `${summaryLines(summary)}\n`);
        if (summary.days.some((d) => d.runState !== 'success')) process.exitCode = 1;
      },
    );
}
