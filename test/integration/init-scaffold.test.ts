import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initDagRepository } from '../../cli/commands/init.ts';

/** `flywheel init` on the file system: what it writes, and what it refuses to touch. (Installing and running the scaffold: dag-repository.test.ts.) */
describe('flywheel init', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'flywheel-init-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('writes the scaffold with a package name from the folder and the SDK spec asked for', async () => {
    const result = await initDagRepository(path.join(tmp, 'Team DAGs!'), { sdk: 'file:../flywheel-0.1.0.tgz' });
    expect(result.name).toBe('team-dags');
    expect(result.files).toEqual(['.github/workflows/dags.yml', '.gitignore', 'README.md', 'dags/hello_flywheel.ts', 'lib/stats.ts', 'package.json', 'test/hello_flywheel.test.ts', 'tsconfig.json']);
    const manifest = JSON.parse(await readFile(path.join(result.dir, 'package.json'), 'utf8')) as { name: string; type: string; dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };
    expect(manifest).toMatchObject({ name: 'team-dags', type: 'module', dependencies: { flywheel: 'file:../flywheel-0.1.0.tgz' }, scripts: { check: 'flywheel dags check', test: 'vitest run' } });
    expect(Object.keys(manifest.devDependencies).sort()).toEqual(['@types/node', 'typescript', 'vitest']);
    expect(await readFile(path.join(result.dir, 'README.md'), 'utf8')).toContain('DAGS_FOLDER=/srv/team-dags/dags');
    const ours = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect((await initDagRepository(path.join(tmp, 'default-spec'))).sdk).toBe(`^${ours.version}`);
  });

  it('refuses a non-empty folder without --force, and never overwrites a file with it', async () => {
    const dir = path.join(tmp, 'existing');
    await mkdir(path.join(dir, 'dags'), { recursive: true });
    await writeFile(path.join(dir, 'notes.md'), 'ours');
    await expect(initDagRepository(dir)).rejects.toThrow(/is not empty; pass --force/);
    expect(await readdir(dir)).toEqual(['dags', 'notes.md']);

    await writeFile(path.join(dir, 'tsconfig.json'), '{"ours": true}');
    await expect(initDagRepository(dir, { force: true })).rejects.toThrow(/already has tsconfig.json; nothing was written/);
    expect((await readdir(dir)).sort()).toEqual(['dags', 'notes.md', 'tsconfig.json']);
    expect(await readFile(path.join(dir, 'tsconfig.json'), 'utf8')).toBe('{"ours": true}');

    await rm(path.join(dir, 'tsconfig.json'));
    const added = await initDagRepository(dir, { force: true, name: 'kept' });
    expect(added.name).toBe('kept');
    expect(await readFile(path.join(dir, 'notes.md'), 'utf8')).toBe('ours');
  });
});
