/**
 * The dependency rule between folders (ARCHITECTURE.md, "Layers"), read off the real import
 * graph: every static and dynamic import of every source file, resolved to the folder it lands
 * in. A new import that crosses a layer the wrong way fails here with the file, the line and
 * the rule it breaks.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Folder → the folders it may import (besides itself and npm packages). The first rule whose
 * folder is a prefix of the importing file's path applies, so more specific folders come first.
 * Folders absent from a rule's list are forbidden to it.
 */
const RULES: readonly { folder: string; may: readonly string[] }[] = [
  // The DAG authoring API does no I/O: data engineers' DAG files load it in any process.
  { folder: 'core/sdk', may: [] },
  { folder: 'core/loader', may: ['core/sdk', 'core/errors.ts'] },
  // `flywheel/testing`: runs a task as a worker would, with no I/O of its own (it ships in the built SDK).
  { folder: 'core/testing', may: ['core/sdk', 'core/executor/task-context.ts', 'core/executor/json-output.ts'] },
  { folder: 'core/db', may: ['core/sdk', 'core/errors.ts'] },
  { folder: 'core/state', may: ['core/sdk', 'core/db', 'core/errors.ts', 'core/logger.ts'] },
  // Workers run tries and record their outcome; they never schedule (the scheduler enqueues them).
  { folder: 'core/executor', may: ['core/sdk', 'core/db', 'core/state', 'core/loader', 'core/errors.ts', 'core/logger.ts', 'core/config.ts'] },
  { folder: 'core/scheduler', may: ['core/sdk', 'core/db', 'core/state', 'core/executor', 'core/loader', 'core/errors.ts', 'core/logger.ts', 'core/config.ts'] },
  // The orchestrator is the bottom layer: it knows nothing of recommenders, the web or the CLI.
  { folder: 'core', may: ['core'] },
  // A library: no pipeline, no seed tools, no web, no scheduler or executor.
  { folder: 'model', may: ['core/db', 'core/sdk', 'core/errors.ts', 'core/logger.ts'] },
  // Reusable task templates: any DAG may use them, so they know no application.
  { folder: 'operators', may: ['core/sdk', 'core/db', 'core/config.ts', 'core/errors.ts'] },
  { folder: 'daily-picks', may: ['core/sdk', 'core/db', 'core/config.ts', 'core/errors.ts', 'core/logger.ts', 'model', 'operators'] },
  { folder: 'dags', may: ['core/sdk', 'operators', 'daily-picks', 'model'] },
  // The browser's modules are served as files: they can only import each other.
  { folder: 'web/ui', may: [] },
  { folder: 'web', may: ['core', 'model', 'daily-picks'] },
  { folder: 'workers', may: ['core'] },
  // The program on top: composes everything below it.
  { folder: 'cli', may: ['core', 'model', 'operators', 'daily-picks', 'web', 'workers'] },
  // The loader's registration (tsx and the `flywheel` resolver) runs before the CLI is imported.
  { folder: 'bin', may: ['cli', 'core/loader/register.js'] },
  { folder: 'bench', may: ['core', 'model', 'operators', 'daily-picks', 'web', 'workers', 'cli', 'test/support', 'test/integration'] },
];

/** The package's own name resolves to the DAG authoring API (package.json `exports`). */
const PACKAGE_SELF: Record<string, string> = { flywheel: 'core/sdk/index.ts', 'flywheel/testing': 'core/testing/run-task.ts' };

interface ImportEdge {
  from: string;
  to: string;
  line: number;
}

interface Violation extends ImportEdge {
  rule: string;
}

const within = (file: string, folder: string): boolean => file === folder || file.startsWith(`${folder}/`);

function ruleFor(file: string): (typeof RULES)[number] | undefined {
  return RULES.find((rule) => within(file, rule.folder));
}

/** The edges that break a rule; files outside every rule (tests, config files) may import anything. */
function violations(edges: readonly ImportEdge[]): Violation[] {
  const found: Violation[] = [];
  for (const edge of edges) {
    const rule = ruleFor(edge.from);
    if (!rule || within(edge.to, rule.folder)) continue;
    if (rule.may.some((allowed) => within(edge.to, allowed))) continue;
    found.push({ ...edge, rule: `${rule.folder} may import ${rule.may.length ? rule.may.join(', ') : 'nothing outside itself'}` });
  }
  return found;
}

/** Relative and self-package imports of one file, resolved to repository paths. */
function importsOf(file: string, source: string): ImportEdge[] {
  const info = ts.preProcessFile(source, true, true);
  const edges: ImportEdge[] = [];
  const lineOf = (position: number) => source.slice(0, position).split('\n').length;
  for (const imported of info.importedFiles) {
    const specifier = imported.fileName;
    let to: string | undefined = PACKAGE_SELF[specifier];
    if (!to && specifier.startsWith('.')) to = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    if (!to) continue;
    edges.push({ from: file, to, line: lineOf(imported.pos) });
  }
  return edges;
}

/** Every cycle reached by a depth-first walk, as `a → b → … → a`. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]) => {
    state.set(node, 'open');
    trail.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...trail.slice(trail.indexOf(next)), next].join(' → '));
      else if (!state.has(next) && graph.has(next)) visit(next, trail);
    }
    trail.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, []);
  return cycles;
}

function sourceFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.ts', '*.js'], { cwd: ROOT, encoding: 'utf8' });
  return listed
    .split('\n')
    .filter((file) => file && !file.startsWith('test/') && !file.startsWith('node_modules/'))
    .filter((file) => {
      try {
        readFileSync(path.join(ROOT, file));
        return true;
      } catch {
        return false; // deleted in the working tree
      }
    });
}

describe('the dependency rule between folders', () => {
  it('holds for every import in the repository', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    const edges = files.flatMap((file) => importsOf(file, readFileSync(path.join(ROOT, file), 'utf8')));
    expect(edges.length).toBeGreaterThan(500);
    const broken = violations(edges).map((v) => `${v.from}:${v.line} imports ${v.to} (${v.rule})`);
    expect(broken).toEqual([]);
  });

  it('every top-level source folder has a rule, so a new folder is placed in a layer on purpose', () => {
    const folders = new Set(sourceFiles().filter((file) => file.includes('/')).map((file) => file.split('/')[0]!));
    const unruled = [...folders].filter((folder) => !RULES.some((rule) => rule.folder === folder || rule.folder.startsWith(`${folder}/`)));
    expect(unruled).toEqual([]);
  });

  it('the folders form no cycle', () => {
    const top = (folder: string) => folder.split('/')[0]!;
    const graph = new Map<string, string[]>();
    for (const rule of RULES) {
      const from = top(rule.folder);
      const targets = graph.get(from) ?? graph.set(from, []).get(from)!;
      for (const allowed of rule.may) if (top(allowed) !== from) targets.push(top(allowed));
    }
    expect(findCycles(graph)).toEqual([]);
  });

  it('no source file imports itself through a chain of imports', () => {
    const files = sourceFiles();
    const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(path.join(ROOT, file), 'utf8')).map((edge) => edge.to)]));
    expect(findCycles(graph)).toEqual([]);
    expect(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]))).toEqual(['a.ts → b.ts → c.ts → a.ts']);
  });

  it('catches an import that crosses a layer the wrong way, naming the file, line and rule', () => {
    const edges = [
      ...importsOf('core/scheduler/loop.ts', "import type { Dag } from '../sdk/dag.ts';\nimport { x } from '../../daily-picks/steps.ts';\n"),
      ...importsOf('model/ranker/net.ts', "import { a } from '../data/history.ts';\n\nconst b = await import('../../core/scheduler/actions.ts');\n"),
      ...importsOf('core/executor/worker.ts', "import { y } from '../scheduler/scheduler.ts';\n"),
      ...importsOf('dags/mine.ts', "import { dag } from 'flywheel';\nimport { z } from '../web/server.ts';\n"),
      ...importsOf('core/sdk/task.ts', "import { q } from '../db/client.ts';\n"),
    ];
    expect(violations(edges).map((v) => `${v.from}:${v.line} → ${v.to}`)).toEqual([
      'core/scheduler/loop.ts:2 → daily-picks/steps.ts',
      'model/ranker/net.ts:3 → core/scheduler/actions.ts',
      'core/executor/worker.ts:1 → core/scheduler/scheduler.ts',
      'dags/mine.ts:2 → web/server.ts',
      'core/sdk/task.ts:1 → core/db/client.ts',
    ]);
  });
});
