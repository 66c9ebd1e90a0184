import path from 'node:path';
import { runArtifactDir } from '../operators/run-artifacts.ts';

/** Where Daily Picks keeps its artifacts under ARTIFACTS_DIR. */
export class ArtifactPaths {
  constructor(
    readonly root: string,
    readonly dagId = 'daily_picks',
  ) {}

  /** The workout history, one Arrow file per UTC day, shared by every run (extracted incrementally). */
  get workoutsDir(): string {
    return path.join(this.root, this.dagId, 'workouts');
  }

  workoutPartition(day: string): string {
    return path.join(this.workoutsDir, `day=${day}.arrow`);
  }

  get workoutsManifest(): string {
    return path.join(this.workoutsDir, 'manifest.json');
  }

  /** A trained model version's artifact (`model.json` + `weights.bin`). */
  modelDir(version: string): string {
    return path.join(this.root, this.dagId, 'models', version);
  }

  /** One run's own artifacts (catalogue snapshot, rankings, rows). */
  runDir(runId: string): string {
    return runArtifactDir(this.root, this.dagId, runId);
  }

  runFile(runId: string, name: string): string {
    return path.join(this.runDir(runId), name);
  }
}
