/**
 * `flywheel init [dir]`: scaffolds a DAG repository (package.json depending on flywheel,
 * tsconfig.json, an example DAG with a helper and a vitest test, a CI workflow and a README on
 * DAGS_FOLDER) from the files in cli/init-template, which this repository type-checks and lints
 * like its own code so the scaffold never drifts from the SDK.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { FlywheelError } from '../../core/errors.ts';
import { jsonOption, print } from '../support.ts';

const TEMPLATE = fileURLToPath(new URL('../init-template', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../../package.json', import.meta.url));
/** npm drops `.gitignore` from packed packages, so the template keeps it under another name. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' };
const NAME_PLACEHOLDER = /__NAME__/g;

export interface InitOptions {
  /**
   * The `flywheel` dependency written to package.json: a version range, or `file:…/flywheel-x.y.z.tgz`
   * for a package made with `npm pack`.
   * @defaultValue `^` and the version of the running Flywheel
   */
  sdk?: string;
  /** The package name. @defaultValue the folder's name, lower-cased, with other characters as `-` */
  name?: string;
  /** Write into a folder that already has files (never over one of them). @defaultValue false */
  force?: boolean;
}

export interface InitResult {
  dir: string;
  name: string;
  sdk: string;
  files: string[];
}

interface Manifest {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** A valid npm package name from a folder name. */
function packageNameFor(dir: string): string {
  const name = path.basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|-+$/g, '');
  return name || 'flywheel-dags';
}

async function listTemplate(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const relative = path.join(prefix, entry.name);
    if (entry.isDirectory()) files.push(...(await listTemplate(path.join(dir, entry.name), relative)));
    else files.push(relative);
  }
  return files.sort();
}

/** Writes the scaffold into `dir`; refuses (`conflict`) to overwrite any file, or to fill a non-empty folder without `force`. */
export async function initDagRepository(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const target = path.resolve(dir);
  const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as Manifest;
  const name = options.name ?? packageNameFor(target);
  const sdk = options.sdk ?? `^${manifest.version}`;
  const existing = await readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (existing.length > 0 && !options.force) {
    throw new FlywheelError('conflict', `${target} is not empty; pass --force to add the scaffold beside what is there (no file is overwritten)`);
  }
  const templateFiles = (await listTemplate(TEMPLATE)).map((file) => ({ from: file, to: RENAMED[file] ?? file }));
  const packageJson = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      check: 'flywheel dags check',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
    },
    dependencies: { flywheel: sdk },
    devDependencies: {
      '@types/node': manifest.devDependencies['@types/node'],
      typescript: manifest.dependencies.typescript,
      vitest: manifest.devDependencies.vitest,
    },
  };
  const written = ['package.json', ...templateFiles.map((f) => f.to)];
  const clashes = (await Promise.all(written.map(async (file) => ((await readFile(path.join(target, file)).then(() => true, () => false)) ? file : null)))).filter(
    (file): file is string => file !== null,
  );
  if (clashes.length > 0) throw new FlywheelError('conflict', `${target} already has ${clashes.join(', ')}; nothing was written`);

  await mkdir(target, { recursive: true });
  await writeFile(path.join(target, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`, { flag: 'wx' });
  for (const file of templateFiles) {
    const destination = path.join(target, file.to);
    await mkdir(path.dirname(destination), { recursive: true });
    if (file.to.endsWith('.md')) {
      const text = await readFile(path.join(TEMPLATE, file.from), 'utf8');
      await writeFile(destination, text.replace(NAME_PLACEHOLDER, name), { flag: 'wx' });
    } else {
      await cp(path.join(TEMPLATE, file.from), destination, { errorOnExist: true, force: false });
    }
  }
  return { dir: target, name, sdk, files: written.sort() };
}

export function registerInitCommand(program: Command): void {
  program
    .command('init [dir]')
    .description('scaffold a DAG repository: package.json (flywheel, typescript, vitest), tsconfig, an example DAG and its test, CI, README')
    .option('--sdk <spec>', 'the flywheel dependency: a version range, or file:PATH to a tarball made by `npm pack` (default: ^ this version)')
    .option('--name <name>', 'package name (default: from the folder name)')
    .option('--force', 'write into a folder that already has files (never over one)')
    .addOption(jsonOption())
    .action(async (dir: string | undefined, options: { sdk?: string; name?: string; force?: boolean; json?: boolean }) => {
      const result = await initDagRepository(dir ?? '.', { ...(options.sdk ? { sdk: options.sdk } : {}), ...(options.name ? { name: options.name } : {}), force: Boolean(options.force) });
      const shown = path.relative(process.cwd(), result.dir) || '.';
      print(Boolean(options.json), result, () =>
        [
          `created ${result.name} in ${shown} (flywheel ${result.sdk}):`,
          ...result.files.map((file) => `  ${file}`),
          '',
          'next:',
          ...(shown === '.' ? [] : [`  cd ${shown}`]),
          '  npm install',
          '  npm run check && npm test',
          `  DAGS_FOLDER=${path.join(result.dir, 'dags')} flywheel scheduler   # and each worker`,
        ].join('\n'),
      );
    });
}
