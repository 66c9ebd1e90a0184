import { Command, Option } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { ActionError } from '../../core/scheduler/actions.ts';
import { InvalidMemberIdError, PicksReader, type MemberPicksView } from './picks-reader.ts';
import { currentPublication, PublishError, rollbackPicks } from './publish.ts';

/** Bad input and refused actions print one line and exit 2, as the other commands do. */
function asActionError(error: unknown): never {
  if (error instanceof InvalidMemberIdError) throw new ActionError(`memberId: ${error.message}`);
  if (error instanceof PublishError) throw new ActionError(error.message, 409);
  throw error;
}
import { withResources } from './resources.ts';

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

/** `flywheel picks <memberId>`, `flywheel picks rollback`, `flywheel picks status`. */
export function registerPicksCommands(program: Command): void {
  const picks = program
    .command('picks')
    .description("a member's published Daily Picks (as the picks API serves them); `picks rollback` serves the previous set again")
    .argument('[memberId]', 'member id')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (memberId: string | undefined, options: { json?: boolean }) => {
      if (!memberId) {
        picks.help({ error: true });
        return;
      }
      const config = loadConfig();
      const view = await withResources(({ db, redis }) => new PicksReader({ db, redis, cachePrefix: config.queuePrefix }).get(memberId)).catch(asActionError);
      process.stdout.write(options.json ? `${JSON.stringify(view, null, 2)}\n` : `${render(view)}\n`);
    });
  picks
    .command('rollback')
    .description('serve the picks set published before the current one again (run it twice to undo)')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (options: { json?: boolean }) => {
      const result = await withResources(({ db, pool, redis, config }) => rollbackPicks(db, pool, redis, config.queuePrefix)).catch(asActionError);
      process.stdout.write(
        options.json
          ? `${JSON.stringify(result, null, 2)}\n`
          : `now serving publication ${result.current.publicationId} (run ${result.current.runId}, ${result.current.modelVersion}); publication ${result.previous.publicationId} (run ${result.previous.runId}) is kept as previous\n`,
      );
    });
  picks
    .command('status')
    .description('the published picks set: run, model version, members, picks')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (options: { json?: boolean }) => {
      const publication = await withResources(({ db }) => currentPublication(db));
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
        options.json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : summary
            ? `publication ${summary.publicationId}: run ${summary.runId} (${summary.modelVersion}), ${summary.members} members, ${summary.picks} picks, published ${summary.publishedAt}\n`
            : 'nothing published yet\n',
      );
    });
}
