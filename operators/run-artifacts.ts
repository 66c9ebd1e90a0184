import path from 'node:path';

/**
 * A run's own folder under the artifact store: `<artifactsDir>/<dagId>/runs/<runId>`, the run id
 * with characters other than letters, digits, `_`, `.` and `-` replaced by `_` (run ids hold `:`
 * and `+`, which some file systems and tools refuse).
 */
export function runArtifactDir(artifactsDir: string, dagId: string, runId: string): string {
  return path.join(artifactsDir, dagId, 'runs', runId.replace(/[^A-Za-z0-9_.-]/g, '_'));
}
