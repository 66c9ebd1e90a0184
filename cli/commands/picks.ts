import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { runDagTest } from '../dag-test.ts';
import { migrateDatabase } from '../../core/db/migrate.ts';
import { redactUrl } from '../../core/config.ts';
import { requireRedis } from '../../core/service-errors.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { sql } from 'drizzle-orm';
import { insertAuditEntry } from '../../core/db/queries/audit-log.ts';
import { cliActor, jsonOption } from '../support.ts';
import { PicksReader, type MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { currentPublication, rollbackPicks } from '../../daily-picks/publish.ts';

import { withConnections } from '../../operators/connections.ts';

function render(view: MemberPicksView): string {
  const lines = [`member ${view.memberId} — source ${view.source}, model ${view.modelVersion ?? '-'}, generated ${view.generatedAt ?? '-'}`];
  if (view.rows.length === 0) lines.push('(no picks)');
  for (const row of view.rows) {
    lines.push('', `${row.row} (${row.picks.length})`);
    row.picks.slice(0, row.row === 'ranked' ? 10 : row.picks.length).forEach((pick, i) => {
      const what = [pick.title ?? pick.classId, pick.durationMin === null ? null : `${pick.durationMin} min`, pick.discipline, pick.instructor].filter(Boolean).join(' · ');
      lines.push(`  ${String(i + 1).padStart(3)}. ${what}  [${pick.score.toPrecision(3)}]  ${pick.reason}`);
    });
    if (row.row === 'ranked' && row.picks.length > 10) lines.push(`       … ${row.picks.length - 10} more (--json for all)`);
  }
  return lines.join('\n');
}

/**
 * `flywheel demo`: the main job end to end on generated data — migrate, seed (only into an
 * empty source: never over someone's data), run daily_picks once, print one member's rows.
 */
async function demo(options: { members: number; classes: number; days: number }): Promise<void> {
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`database ${redactUrl(config.databaseUrl)}, redis ${redactUrl(config.redisUrl)}, artifacts ${config.artifactsDir}`);
  // Both before the seed writes anything: Redis answers (the run's workers need it), and the
  // database exists. The demo does not create it (`npm run demo` runs `flywheel db migrate`
  // first): a mistyped DATABASE_URL is an error, not a new install.
  await requireRedis(config.redisUrl);
  await migrateDatabase(config.databaseUrl);
  const existing = await withConnections(async ({ db }) => {
    const counts = await db.execute<{ members: number; classes: number; workouts: number }>(sql`
      select (select count(*)::int from source.member) as members, (select count(*)::int from source.class) as classes,
             (select count(*)::int from source.workout) as workouts`);
    return counts.rows[0]!;
  });
  if (existing.members + existing.classes + existing.workouts === 0) {
    say(`seeding ${options.members} members, ${options.classes} classes, ${options.days} days of workouts …`);
    const summary = await withConnections(({ pool }) => seedSource(pool, { members: options.members, classes: options.classes, days: options.days, audit: { actor: cliActor(), auth: 'cli' } }));
    say(`  ${summary.members} members, ${summary.instructors} instructors, ${summary.classes} classes, ${summary.workouts} workouts`);
  } else {
    // Someone's data (imported or seeded): never written over; with no workouts there is nothing to learn from yet.
    say(`source data present (${existing.members} members, ${existing.classes} classes, ${existing.workouts} workouts): using it (\`flywheel seed --replace\` starts over)`);
  }
  say('running daily_picks once (extract → heuristics, train → rank → filter_rows → publish) …');
  // The workers' info logs would bury the summary; FLYWHEEL_LOG_LEVEL still wins when set.
  const quiet = process.env.FLYWHEEL_LOG_LEVEL ? config : { ...config, logLevel: 'warn' as const };
  const result = await runDagTest(quiet, 'daily_picks', { timeoutMs: 30 * 60_000 });
  for (const t of result.tasks) say(`  ${t.taskId.padEnd(12)} ${t.state.padEnd(8)} ${((t.durationMs ?? 0) / 1000).toFixed(1).padStart(6)} s${t.error ? `  ${t.error.split('\n')[0]}` : ''}`);
  say(`daily_picks ${result.runId}: ${result.state} in ${(result.durationMs / 1000).toFixed(1)} s`);
  if (result.state !== 'success') {
    process.exitCode = 1;
    return;
  }
  const view = await withConnections(async ({ db, redis }) => {
    // A member with a few weeks of history shows what the rows are about.
    const member = await db.execute<{ member_id: string }>(sql`
      select member_id from picks where row = 'for_your_usual' and model_version <> 'popularity' order by member_id limit 1`);
    const memberId = member.rows[0]?.member_id;
    return memberId ? new PicksReader({ db, redis, cachePrefix: config.queuePrefix }).get(memberId) : null;
  });
  if (view) {
    say('');
    say(render(view));
  }
  say('');
  say(`UI and API: \`flywheel users create admin --role admin\`, then \`flywheel web\` and open http://localhost:${config.webPort}/`);
  if (view) say(`picks API:  curl http://localhost:${config.webPort}/api/v1/members/${encodeURIComponent(view.memberId)}/picks`);
}

async function showPicks(memberId: string, json: boolean): Promise<void> {
  const config = loadConfig();
  const view = await withConnections(({ db, redis }) => new PicksReader({ db, redis, cachePrefix: config.queuePrefix }).get(memberId));
  process.stdout.write(json ? `${JSON.stringify(view, null, 2)}\n` : `${render(view)}\n`);
}

/** `flywheel picks <memberId>`, `flywheel picks show <memberId>`, `flywheel picks rollback`, `flywheel picks status`. */
export function registerPicksCommands(program: Command): void {
  const positive = (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
    return n;
  };
  program
    .command('demo')
    .description('the main job on generated data: migrate (an existing database), seed an empty source, run daily_picks once, print one member’s rows')
    .option('--members <n>', 'members to generate', positive, 3000)
    .option('--classes <n>', 'classes to generate', positive, 800)
    .option('--days <n>', 'days of workouts to generate', positive, 90)
    .action(demo);

  const picks = program
    .command('picks')
    .description("a member's published Daily Picks (as the picks API serves them); `picks rollback` serves the previous set again")
    .argument('[memberId]', 'member id')
    .addOption(jsonOption())
    .action(async (memberId: string | undefined, options: { json?: boolean }) => {
      if (!memberId) {
        picks.help({ error: true });
        return;
      }
      await showPicks(memberId, Boolean(options.json));
    });
  picks
    .command('show <memberId>')
    .description('the same as `picks <memberId>`, also for a member whose id is a subcommand name (status, rollback, show)')
    .addOption(jsonOption())
    .action(async (memberId: string, options: { json?: boolean }) => showPicks(memberId, wantsJson(options)));
  // `picks` has a --json of its own, and commander gives an option after a subcommand to the parent
  // that declares it: `picks status --json` sets picks' --json, not status's. Either counts.
  const wantsJson = (options: { json?: boolean }) => Boolean(options.json || picks.opts<{ json?: boolean }>().json);
  picks
    .command('rollback')
    .description('serve the picks set published before the current one again (run it twice to undo)')
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const json = wantsJson(options);
      // The swap retires the serving cache in Redis: Redis answers first, or nothing is swapped.
      await requireRedis(loadConfig().redisUrl);
      const result = await withConnections(async ({ db, pool, redis, config }) => {
        const swapped = await rollbackPicks(db, pool, redis, config.queuePrefix);
        await insertAuditEntry(db, {
          actor: cliActor(),
          userId: null,
          auth: 'cli',
          action: 'picks.rollback',
          target: `publication ${swapped.current.publicationId}`,
          details: { current: swapped.current, previous: swapped.previous },
        });
        return swapped;
      });
      process.stdout.write(
        json
          ? `${JSON.stringify(result, null, 2)}\n`
          : `now serving publication ${result.current.publicationId} (run ${result.current.runId}, ${result.current.modelVersion}); publication ${result.previous.publicationId} (run ${result.previous.runId}) is kept as previous\n`,
      );
    });
  picks
    .command('status')
    .description('the published picks set: run, model version, members, picks')
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const json = wantsJson(options);
      const publication = await withConnections(({ db }) => currentPublication(db));
      const summary = publication && {
        publicationId: publication.id,
        dagId: publication.dagId,
        runId: publication.runId,
        modelVersion: publication.modelVersion,
        generatedAt: publication.generatedAt.toISOString(),
        publishedAt: publication.publishedAt.toISOString(),
        members: publication.memberCount,
        picks: publication.pickCount,
      };
      process.stdout.write(
        json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : summary
            ? `publication ${summary.publicationId}: run ${summary.runId} (${summary.modelVersion}), ${summary.members} members, ${summary.picks} picks, published ${summary.publishedAt}\n`
            : 'nothing published yet\n',
      );
    });
}
