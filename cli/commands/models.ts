import { type Command, InvalidArgumentError, Option } from 'commander';
import { cliActor, jsonOption, print, table, withDatabase } from '../support.ts';
import { insertAuditEntry } from '../../core/db/queries/audit-log.ts';
import { asServingPlan, SEGMENTS } from '../../model/serving-plan.ts';
import { listModels, METRIC_CANDIDATES, MODEL_STAGES, type ModelMetrics, type ModelStage, type ModelVersionRow, promoteModel, requireModel } from '../../model/registry.ts';

const fmt = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(4));

/** Candidates in display order: the known four first, then any others. */
export function candidatesOf(metrics: ModelMetrics): string[] {
  const known = METRIC_CANDIDATES.filter((c) => c in metrics);
  return [...known, ...Object.keys(metrics).filter((c) => !(known as string[]).includes(c)).sort()];
}

/** `ranker 0.4123/0.6120  heuristics 0.3011/0.5004` (ndcg@10 / recall@10 per candidate). */
function metricsSummary(metrics: ModelMetrics): string {
  return candidatesOf(metrics)
    .map((c) => `${c} ${fmt(metrics[c]?.['ndcg@10'])}/${fmt(metrics[c]?.['recall@10'])}`)
    .join('  ');
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function show(model: ModelVersionRow): string {
  const lines = [
    `version        ${model.version}`,
    `model          ${model.modelName}`,
    `stage          ${model.stage}`,
    `status         ${model.status}`,
    `backend        ${model.backend}`,
    `created        ${model.createdAt.toISOString()}`,
    `finished       ${model.finishedAt?.toISOString() ?? '-'}`,
    `duration       ${duration(model.durationMs)}`,
    `data           ${model.dataLocation ?? '-'}`,
    `artifact       ${model.artifactPath ?? '-'}`,
    `dag run        ${model.dagId ? `${model.dagId} / ${model.runId ?? '-'}` : '-'}`,
  ];
  if (model.promotedAt) lines.push(`promoted       ${model.promotedAt.toISOString()} by ${model.promotedBy ?? '?'}`);
  if (model.error) lines.push(`error          ${model.error}`);
  lines.push('', 'row counts', ...(Object.keys(model.rowCounts).length ? Object.entries(model.rowCounts).map(([k, v]) => `  ${k.padEnd(14)} ${v}`) : ['  (none)']));
  lines.push('', 'params', ...(Object.keys(model.params).length ? Object.entries(model.params).map(([k, v]) => `  ${k.padEnd(14)} ${JSON.stringify(v)}`) : ['  (none)']));
  const candidates = candidatesOf(model.metrics);
  const names = [...new Set(candidates.flatMap((c) => Object.keys(model.metrics[c] ?? {})))].sort();
  lines.push(
    '',
    'metrics',
    candidates.length === 0
      ? '  (none)'
      : table(
          candidates.map((c) => ({ candidate: c, ...Object.fromEntries(names.map((n) => [n, fmt(model.metrics[c]?.[n])])) })),
          ['candidate', ...names],
        )
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
  );
  lines.push('', 'serving', ...servingLines(model.serving));
  return lines.join('\n');
}

/** Which candidate serves which segment and why, the holdout it was decided on, and the gate. */
function servingLines(serving: ModelVersionRow['serving']): string[] {
  const plan = asServingPlan(serving);
  if (!plan || !serving) return ['  (none: trained before serving plans, its ranker serves every member with history)'];
  const lines = SEGMENTS.map((s) => `  ${s.padEnd(14)} ${plan.segments[s].padEnd(11)} ${plan.reasons[s]}`);
  const text = (key: string) => {
    const value = serving[key];
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && !Array.isArray(value)) return typeof value.reason === 'string' ? value.reason : JSON.stringify(value);
    return null;
  };
  for (const key of ['holdout', 'ranker', 'production', 'gate']) {
    const value = text(key);
    if (value !== null) lines.push(`  ${key.padEnd(14)} ${value}`);
  }
  return lines;
}

function parseStage(value: string): ModelStage {
  if (!(MODEL_STAGES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${MODEL_STAGES.join(', ')}`);
  return value as ModelStage;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('must be a whole number, 1–10000');
  return n;
}

/** `flywheel models list|show|promote`: the model registry. */
export function registerModelCommands(program: Command): void {
  const models = program.command('models').description('the model registry: trained ranker versions, their metrics, the one in production');

  models
    .command('list')
    .description('model versions, newest first: version, stage, backend, metrics (ndcg@10/recall@10 per candidate)')
    .addOption(new Option('--stage <stage>', `only ${MODEL_STAGES.join(' | ')}`).argParser(parseStage))
    .addOption(new Option('--limit <n>', 'at most n versions').argParser(parseLimit).default(50))
    .addOption(jsonOption())
    .action(async (options: { stage?: ModelStage; limit: number; json?: boolean }) => {
      const page = await withDatabase(({ db }) => listModels(db, { limit: options.limit, ...(options.stage ? { stage: options.stage } : {}) }));
      print(Boolean(options.json), { models: page.models }, () =>
        table(
          page.models.map((m) => ({
            version: m.version,
            stage: m.stage,
            status: m.status,
            backend: m.backend,
            created: m.createdAt.toISOString().slice(0, 19).replace('T', ' '),
            'metrics (ndcg@10/recall@10)': metricsSummary(m.metrics),
          })),
          ['version', 'stage', 'status', 'backend', 'created', 'metrics (ndcg@10/recall@10)'],
        ),
      );
    });

  models
    .command('show <version>')
    .description('one model version: parameters, backend, data location and row counts, metrics, artifact path')
    .addOption(jsonOption())
    .action(async (version: string, options: { json?: boolean }) => {
      const model = await withDatabase(({ db }) => requireModel(db, version));
      print(Boolean(options.json), model, () => show(model));
    });

  models
    .command('promote <version>')
    .description('put a succeeded model version into production (the current one is archived)')
    .addOption(jsonOption())
    .action(async (version: string, options: { json?: boolean }) => {
      const actor = cliActor();
      const result = await withDatabase(({ db }) =>
        promoteModel(db, version, {
          by: actor,
          audit: (tx, outcome) => insertAuditEntry(tx, { actor, userId: null, auth: 'cli', action: 'model.promote', target: version, details: outcome }),
        }),
      );
      print(Boolean(options.json), result, () => `promoted ${result.version} to production${result.previous ? ` (archived ${result.previous})` : ''}`);
    });
}
