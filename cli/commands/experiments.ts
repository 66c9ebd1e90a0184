import { type Command, InvalidArgumentError, Option } from 'commander';
import { cliActor, jsonOption, print, table, withDatabase } from '../support.ts';
import { insertAuditEntry, type AuditHook } from '../../core/db/queries/audit-log.ts';
import { experimentReport, type ExperimentReport, type LiftReport } from '../../daily-picks/experiments/report.ts';
import { createExperiment, DEFAULT_EXPERIMENT_ROWS, EXPERIMENT_ROWS, listExperiments, parseVariants, stopExperiment, type ExperimentInfo } from '../../daily-picks/experiments/store.ts';

function parseDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`"${value}" is not an ISO 8601 date`);
  return date;
}

function parseRows(value: string): string[] {
  return value.split(',').map((r) => r.trim());
}

const audit = (action: string, key: string): AuditHook => (tx, outcome) => insertAuditEntry(tx, { actor: cliActor(), userId: null, auth: 'cli', action, target: key, details: outcome });

const variantsText = (e: Pick<ExperimentInfo, 'variants'>) => e.variants.map((v) => `${v.key}:${v.weight}`).join(',');
const iso = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '-');
const pct = (value: number | null, digits = 1) => (value === null ? '-' : `${(value * 100).toFixed(digits)}%`);
const signed = (value: number | null) => (value === null ? '-' : `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`);
const num = (value: number | null, digits = 4) => (value === null ? '-' : value.toFixed(digits));
const pValue = (p: number | null) => (p === null ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4));

function liftRows(lifts: LiftReport[]) {
  return lifts.map((l) => ({
    variant: l.variant,
    metric: l.metric,
    lift: signed(l.relative),
    '95% interval': l.ciLow === null || l.ciHigh === null ? '-' : `[${signed(l.ciLow)}, ${signed(l.ciHigh)}]`,
    p: pValue(l.pValue),
  }));
}

/** The human form of `experiments show`: the variants, the lifts with their intervals, the SRM check, the guardrail. */
export function showReport(report: ExperimentReport): string {
  const baseline = report.variants[0]?.key ?? '-';
  const lines = [
    `experiment     ${report.key}`,
    `status         ${report.status}`,
    `rows           ${report.rows.join(', ')}`,
    `start          ${report.startAt}`,
    `end            ${report.endAt ?? '-'}`,
    `stopped        ${report.stoppedAt ?? '-'}`,
    '',
    table(
      report.variants.map((v) => ({
        variant: v.key,
        weight: `${v.weight}%`,
        members: v.members,
        exposed: v.exposed,
        converted: v.converted,
        'take rate': pct(v.takeRate),
        impressions: v.impressions,
        clicks: v.clicks,
        conversions: v.conversions,
        'conv/impr': num(v.conversionsPerImpression),
        'repeat-ignored': pct(v.repeatIgnoredRate),
      })),
      ['variant', 'weight', 'members', 'exposed', 'converted', 'take rate', 'impressions', 'clicks', 'conversions', 'conv/impr', 'repeat-ignored'],
    ),
    '',
    `lift over ${baseline} (relative, 95% interval, two-sided p)`,
    table(liftRows(report.lift), ['variant', 'metric', 'lift', '95% interval', 'p']),
    '',
    `sample ratio     chi-square p = ${pValue(report.srmPValue)}${report.srmFlagged ? '' : ' (ok)'}`,
  ];
  if (report.srmFlagged) {
    lines.push('WARNING: sample ratio mismatch (p < 0.001): the exposed counts do not follow the weights; do not trust these results until the cause is found');
  }
  const g = report.guardrails.workoutsPerMember;
  lines.push(
    '',
    `guardrail: workouts per exposed member, from exposure until ${g.until}`,
    table(
      g.variants.map((v) => ({ variant: v.variant, exposed: v.exposed, workouts: v.workouts, mean: num(v.mean, 3) })),
      ['variant', 'exposed', 'workouts', 'mean'],
    ),
    '',
    table(liftRows(g.lift), ['variant', 'metric', 'lift', '95% interval', 'p']),
  );
  return lines.join('\n');
}

/** `flywheel experiments create|list|show|stop`: A/B experiments on the Daily Picks rows. */
export function registerExperimentCommands(program: Command): void {
  const experiments = program.command('experiments').description('A/B experiments on the Daily Picks rows: variants, their members, lift with intervals');

  experiments
    .command('create <key>')
    .description('create an experiment; members are assigned by a hash of their id and the key (the first variant is the baseline)')
    .requiredOption('--variants <list>', 'KEY:WEIGHT,… with weights in percent summing to 100; KEY is heuristics, model, model_ignore_aware or a model version (e.g. heuristics:50,model:50)')
    .addOption(new Option('--rows <rows>', `rows it ranks, comma-separated: ${EXPERIMENT_ROWS.join(', ')}`).argParser(parseRows).default([...DEFAULT_EXPERIMENT_ROWS], DEFAULT_EXPERIMENT_ROWS.join(',')))
    .option('--start <iso>', 'when it starts (default: now)', parseDate)
    .option('--end <iso>', 'when it ends (default: when stopped)', parseDate)
    .option('--description <text>', 'what it tests')
    .addOption(jsonOption())
    .action(async (key: string, options: { variants: string; rows: string[]; start?: Date; end?: Date; description?: string; json?: boolean }) => {
      const variants = parseVariants(options.variants);
      const created = await withDatabase(({ db }) =>
        createExperiment(
          db,
          { key, variants, rows: options.rows, ...(options.start ? { startAt: options.start } : {}), ...(options.end ? { endAt: options.end } : {}), description: options.description ?? null },
          cliActor(),
          { audit: audit('experiment.create', key) },
        ),
      );
      print(Boolean(options.json), created, () => `created experiment ${created.key} (${created.status}): ${variantsText(created)} on ${created.rows.join(', ')} from ${iso(created.startAt)}${created.endAt ? ` to ${iso(created.endAt)}` : ''}`);
    });

  experiments
    .command('list')
    .description('experiments, newest start first: key, status, variants, rows, start, end')
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const rows = await withDatabase(({ db }) => listExperiments(db));
      print(Boolean(options.json), { experiments: rows }, () =>
        table(
          rows.map((e) => ({ key: e.key, status: e.status, variants: variantsText(e), rows: e.rows.join(','), start: iso(e.startAt), end: iso(e.endAt), stopped: iso(e.stoppedAt) })),
          ['key', 'status', 'variants', 'rows', 'start', 'end', 'stopped'],
        ),
      );
    });

  experiments
    .command('show <key>')
    .description('results per variant, lift over the baseline with 95% intervals, sample-ratio check, guardrail')
    .option('--at <iso>', 'report as of this time (default: now; for simulated days)', parseDate)
    .addOption(jsonOption())
    .action(async (key: string, options: { at?: Date; json?: boolean }) => {
      const report = await withDatabase(({ db }) => experimentReport(db, key, options.at ? { now: options.at } : {}));
      print(Boolean(options.json), report, () => showReport(report));
    });

  experiments
    .command('stop <key>')
    .description('stop an experiment now: its rows are ranked as without it from the next serving on')
    .addOption(jsonOption())
    .action(async (key: string, options: { json?: boolean }) => {
      const stopped = await withDatabase(({ db }) => stopExperiment(db, key, cliActor(), new Date(), audit('experiment.stop', key)));
      print(Boolean(options.json), stopped, () => `stopped experiment ${stopped.key} at ${stopped.stoppedAt?.toISOString() ?? '-'}`);
    });
}
