#!/usr/bin/env node
// Registers tsx so the CLI and the DAG files it loads run as TypeScript with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/cli.ts');
