// Registers what running TypeScript DAGs from any folder needs: tsx (TypeScript without a build
// step) and the `flywheel` resolver (resolve-hooks.ts, loaded through tsx). Imported first by
// bin/flywheel.js and passed with `--import` to sandboxed tries and benchmarks.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./resolve-hooks.ts', import.meta.url);
