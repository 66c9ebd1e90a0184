import { Catalogue } from '../../model/data/catalogue.ts';
import { History } from '../../model/data/history.ts';
import { buildCatalogue, buildMember, DISCIPLINES, emptyWorkouts, LANGUAGES, OffsetTable, simulateMember, windowStartMs, type SeedModelOptions } from './seed-model.ts';

/**
 * The data `flywheel seed` would load, generated in memory and shaped as the pipeline reads it
 * (catalogue + history), for benchmarks and tests that do not need the database.
 */
export function syntheticDataset(options: SeedModelOptions): { catalogue: Catalogue; history: History } {
  const seeded = buildCatalogue(options);
  const idx = Array.from({ length: seeded.count }, (_, i) => i);
  const catalogue = Catalogue.fromColumns({
    ids: seeded.id,
    titles: seeded.title,
    disciplineNames: idx.map((i) => DISCIPLINES[seeded.discipline[i]!]!.name),
    durations: idx.map((i) => seeded.durationMin[i]!),
    instructorIds: idx.map((i) => seeded.instructors[seeded.instructor[i]!]!.id),
    instructorNamesByClass: idx.map((i) => seeded.instructors[seeded.instructor[i]!]!.name),
    languages: idx.map((i) => LANGUAGES[seeded.language[i]!]!),
    aired: Array.from(seeded.airedMs),
    encore: Array.from(seeded.isEncore, (e) => e === 1),
  });
  const offsetsTable = new OffsetTable(windowStartMs(options), options.days);
  const memberIds: string[] = [];
  const offsets: number[] = [0];
  const classIdx: number[] = [];
  const startedAt: number[] = [];
  for (let m = 0; m < options.members; m++) {
    const member = buildMember(options, seeded, m);
    const out = emptyWorkouts();
    simulateMember(options, seeded, offsetsTable, member, out);
    memberIds.push(member.id);
    for (let k = 0; k < out.classId.length; k++) {
      classIdx.push(catalogue.index.get(out.classId[k]!)!);
      startedAt.push(out.startedAt[k]! * 1000);
    }
    offsets.push(classIdx.length);
  }
  const history = History.fromArrays(memberIds, Int32Array.from(offsets), Int32Array.from(classIdx), Float64Array.from(startedAt));
  return { catalogue, history };
}
