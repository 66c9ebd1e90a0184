export * from './dag.ts';
export * from './import-error.ts';
export * from './dag-run.ts';
export * from './task-instance.ts';
export * from './task-try.ts';
export * from './task-log.ts';
export * from './pool.ts';
