import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

/** The browser the browser tests start: its executable and what its process needs in its environment. */
export interface ChromiumBinary {
  readonly executablePath: string;
  /** Variables to add to the browser process's environment (on top of `process.env`). */
  readonly env: Readonly<Record<string, string>>;
  /** Where the executable came from, for error messages. */
  readonly source: string;
}

const PACKAGE = '@sparticuz/chromium';

let resolved: Promise<ChromiumBinary> | undefined;

/**
 * The Chromium for the browser tests: `CHROMIUM_PATH` when set, otherwise the one the dev
 * dependency `@sparticuz/chromium` ships inside its npm tarball, so that `npm ci` alone brings
 * the browser (this machine's registries have no browser download, and Debian's chromium would
 * be an apt-get step outside the project).
 *
 * The package ships a brotli-compressed chrome-headless-shell for Linux x64 (`bin/chromium.br`)
 * plus `al2023.tar.br` (the NSS/NSPR/expat libraries it links), `swiftshader.tar.br` (software
 * GL, which the GPU process loads from beside the executable) and `fonts.tar.br` (Open Sans).
 * Its own `executablePath()` inflates them to fixed names in /tmp, shared with any other user and
 * version, and writes in place, so two test files starting at once can run a half-written
 * binary. Instead this inflates them once per package version into
 * `node_modules/.cache/sparticuz-chromium-<version>/`, in a private folder renamed into place
 * when complete (a concurrent loser throws its copy away), so `npm ci` also clears it. None of
 * the package's JavaScript runs (only its `bin/` files are read), so its `engines` field asking
 * for Node 22 (npm ci warns EBADENGINE on Node 20) does not matter here.
 *
 * The bundled libraries are put first on `LD_LIBRARY_PATH` for the browser process only, so it
 * does not depend on the machine's libnss3; `FONTCONFIG_FILE` points at a config that reads the
 * machine's fontconfig setup when there is one (its fonts are tried first, so screenshots look
 * as on a desktop Linux and symbols such as ✓ ▶ render) and adds the bundled Open Sans, so Latin
 * text is still legible on a machine with no fonts at all (the UI's symbols then render blank).
 *
 * Memoized per process; rejects with a message naming what was tried.
 */
export function chromiumBinary(): Promise<ChromiumBinary> {
  resolved ??= resolveChromium();
  return resolved;
}

async function resolveChromium(): Promise<ChromiumBinary> {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!existsSync(override)) throw new Error(`CHROMIUM_PATH=${override}: no such file`);
    return { executablePath: override, env: {}, source: 'CHROMIUM_PATH' };
  }
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(PACKAGE);
  } catch (error) {
    throw new Error(`No browser for the browser tests: CHROMIUM_PATH is not set and ${PACKAGE} is not installed (run npm ci)`, { cause: error });
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const source = `${PACKAGE}@${version}`;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${source} ships a Chromium for Linux x64 only, not ${process.platform}/${process.arch}: set CHROMIUM_PATH to a Chromium or Chrome executable`);
  }
  // packageDir is node_modules/@sparticuz/chromium.
  const target = path.resolve(packageDir, '..', '..', '.cache', `sparticuz-chromium-${version}`);
  try {
    await inflateOnce(path.join(packageDir, 'bin'), target);
  } catch (error) {
    throw new Error(`Could not inflate ${source} (${path.join(packageDir, 'bin')}) into ${target}: ${(error as Error).message}`, { cause: error });
  }
  const libraries = path.join(target, 'al2023', 'lib');
  const inherited = process.env.LD_LIBRARY_PATH;
  return {
    executablePath: path.join(target, 'chromium'),
    env: {
      LD_LIBRARY_PATH: inherited ? `${libraries}:${inherited}` : libraries,
      FONTCONFIG_FILE: path.join(target, 'fonts.conf'),
    },
    source: `${source}, inflated into ${target}`,
  };
}

/** Inflates the package's `bin/` into `target` unless a complete copy is there (it only ever appears by rename). */
async function inflateOnce(bin: string, target: string): Promise<void> {
  if (existsSync(path.join(target, 'chromium'))) return;
  await removeAbandonedCopies(target);
  const partial = `${target}.partial-${process.pid}-${Date.now()}`;
  await mkdir(partial, { recursive: true });
  try {
    await Promise.all([
      pipeline(createReadStream(path.join(bin, 'chromium.br')), createBrotliDecompress(), createWriteStream(path.join(partial, 'chromium'), { mode: 0o755 })),
      untar(path.join(bin, 'swiftshader.tar.br'), partial),
      untar(path.join(bin, 'al2023.tar.br'), path.join(partial, 'al2023')),
      untar(path.join(bin, 'fonts.tar.br'), path.join(partial, 'fonts')),
    ]);
    await writeFile(path.join(partial, 'fonts.conf'), fontsConf(target));
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    if (existsSync(path.join(target, 'chromium'))) return; // another process finished first
    throw error;
  }
}

/** Removes half-inflated copies left by processes that died while inflating. */
async function removeAbandonedCopies(target: string): Promise<void> {
  const prefix = `${path.basename(target)}.partial-`;
  const entries = await readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
      await rm(path.join(path.dirname(target), entry), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Extracts a brotli-compressed tarball with the system's tar (Node has none of its own). Inflated
 * to a file first: piped into tar, the write can fail when tar exits at the end-of-archive marker
 * before reading the zero padding after it.
 */
async function untar(archive: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  const tarball = path.join(into, path.basename(archive, '.br')); // e.g. fonts.tar, removed below
  await pipeline(createReadStream(archive), createBrotliDecompress(), createWriteStream(tarball));
  await new Promise<void>((resolve, reject) => {
    execFile('tar', ['-x', '--no-same-owner', '-f', tarball, '-C', into], (error, _stdout, stderr) =>
      error ? reject(new Error(`tar -x of ${archive} failed: ${error.message} ${stderr}`.trim())) : resolve(),
    );
  });
  await rm(tarball);
}

/** The machine's fontconfig setup (if any) plus the bundled fonts, with a cache of our own. */
function fontsConf(target: string): string {
  const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <cachedir>${xml(path.join(target, 'fontconfig-cache'))}</cachedir>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>${xml(path.join(target, 'fonts', 'fonts'))}</dir>
</fontconfig>
`;
}
