import { defineConfig } from 'vitest/config';
import { sdkEntries } from './core/loader/sdk-entries.ts';

export default defineConfig({
  // DAG fixtures import `flywheel`: in tests, as under the CLI's loader, that is this checkout's SDK source.
  resolve: { alias: sdkEntries().map((entry) => ({ find: new RegExp(`^${entry.specifier}$`), replacement: entry.source })) },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real schedulers and workers; two cores do not gain from more forks.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
