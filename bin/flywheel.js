#!/usr/bin/env node
// Registers tsx and the `flywheel` resolver so the CLI and the DAG files it loads, wherever
// they are, run as TypeScript with no build step.
import '../core/loader/register.js';

await import('../cli/cli.ts');
