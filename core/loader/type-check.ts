/**
 * Type-checks DAG files with the TypeScript compiler API, as the loader will run them: `flywheel`
 * is this installation's SDK and a `.ts` file outside a `"type": "commonjs"` package is an ES
 * module. `typescript` is imported on demand, so only `flywheel dags check` pays for it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type ts from 'typescript';
import { sdkEntries } from './sdk-entries.ts';

type TypeScript = typeof ts;

/** One TypeScript diagnostic in the DAGs folder, or about the compiler options. */
export interface TypeProblem {
  /** Absolute path of the file; null for a diagnostic about the options as a whole. */
  file: string | null;
  /** 1-based, where the diagnostic has a position. */
  line?: number;
  /** 1-based, where the diagnostic has a position. */
  column?: number;
  /** `TS2322` and the like; absent when TypeScript itself could not be loaded. */
  code?: string;
  /** The diagnostic's message, its chain flattened (one line per level). */
  message: string;
  /** The `dag({ dagId: '…' })` call the position lies in, where its dagId is a literal. */
  dagId?: string;
  /** The `task({ taskId: '…' })` call the position lies in, where its taskId is a literal. */
  taskId?: string;
}

export interface TypeCheckOptions {
  /**
   * The DAGs folder: the nearest tsconfig.json at or above it gives the compiler options, and
   * only diagnostics of files inside it are reported.
   */
  folder: string;
  /** The root files: the folder's DAG files (`listDagFiles`). JavaScript ones are not checked. */
  files: readonly string[];
}

export interface TypeCheckResult {
  /** The tsconfig.json whose options were used; null when the defaults were. */
  configFile: string | null;
  problems: TypeProblem[];
}

/** This installation's root folder (its node_modules has the @types/node it runs DAGs with, in development). */
const INSTALLATION = fileURLToPath(new URL('../../', import.meta.url));
const TYPESCRIPT_FILE = /\.m?ts$/;
/** "No inputs were found" / "The 'files' list is empty": the project's own file list is not used here. */
const NO_INPUTS_CODES = new Set([18002, 18003]);

/** Type-checks `files` under the folder's compiler options; diagnostics outside the folder (the SDK's own, a library's) are left out. */
export async function typeCheckDagFiles(options: TypeCheckOptions): Promise<TypeCheckResult> {
  const folder = path.resolve(options.folder);
  let typescript: TypeScript;
  try {
    typescript = (await import('typescript')).default;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { configFile: null, problems: [{ file: null, message: `cannot type-check: the typescript package could not be loaded (${reason})` }] };
  }
  const { options: compilerOptions, configFile, diagnostics, extraRoots } = compilerOptionsFor(typescript, folder);
  const rootNames = options.files.filter((file) => TYPESCRIPT_FILE.test(file));
  if (rootNames.length > 0) {
    const program = typescript.createProgram({ rootNames: [...rootNames, ...extraRoots], options: compilerOptions, host: loaderLikeHost(typescript, compilerOptions, folder) });
    diagnostics.push(...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics());
    for (const sourceFile of program.getSourceFiles()) {
      if (!inside(folder, sourceFile.fileName)) continue;
      diagnostics.push(...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile));
    }
  }
  const reported = diagnostics.filter((d) => !d.file || d.file.fileName === configFile || inside(folder, d.file.fileName));
  return { configFile, problems: typescript.sortAndDeduplicateDiagnostics(reported).map((d) => toProblem(typescript, d)) };
}

/**
 * The folder's tsconfig.json options (the nearest at or above it), else defaults for a DAG
 * repository without one; either way with `noEmit` and `paths` from `flywheel` to this
 * installation's SDK, so the DAGs are checked against the API they will run with.
 */
function compilerOptionsFor(
  typescript: TypeScript,
  folder: string,
): { options: ts.CompilerOptions; configFile: string | null; diagnostics: ts.Diagnostic[]; extraRoots: string[] } {
  const diagnostics: ts.Diagnostic[] = [];
  const found = typescript.findConfigFile(folder, (file) => typescript.sys.fileExists(file));
  const configFile = found ? path.resolve(found) : null;
  let options: ts.CompilerOptions | null = null;
  let extraRoots: string[] = [];
  if (configFile) {
    const read = typescript.readConfigFile(configFile, (file) => typescript.sys.readFile(file));
    if (read.error) {
      diagnostics.push(read.error);
    } else {
      // Only the options are used: the root files are the DAGs folder's, not the project's
      // include list (often the whole repository), so its directory walk is skipped.
      const host: ts.ParseConfigHost = {
        useCaseSensitiveFileNames: typescript.sys.useCaseSensitiveFileNames,
        fileExists: (file) => typescript.sys.fileExists(file),
        readFile: (file) => typescript.sys.readFile(file),
        readDirectory: () => [],
      };
      const parsed = typescript.parseJsonConfigFileContent(read.config, host, path.dirname(configFile), undefined, configFile);
      diagnostics.push(...parsed.errors.filter((d) => !NO_INPUTS_CODES.has(d.code)));
      options = parsed.options;
    }
  }
  if (!options) ({ options, extraRoots } = defaultOptions(typescript, folder));
  // A check writes nothing (no output, no build info). `composite` would demand every imported file be in the root list
  // (helpers outside the folder are not) and `rootDir` that every file lie under it (the SDK
  // does not): both only shape a build's output, so they are dropped here.
  options.noEmit = true;
  if (options.composite) {
    options.composite = false;
    options.declaration = true; // what composite implied, so `isolatedDeclarations` stays valid
  }
  delete options.rootDir;
  delete options.incremental;
  delete options.tsBuildInfoFile;
  options.paths = { ...options.paths, ...sdkPaths() };
  return { options, configFile, diagnostics, extraRoots };
}

function defaultOptions(typescript: TypeScript, folder: string): { options: ts.CompilerOptions; extraRoots: string[] } {
  const options: ts.CompilerOptions = {
    target: typescript.ScriptTarget.ES2022,
    module: typescript.ModuleKind.NodeNext,
    moduleResolution: typescript.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    // No automatic @types: Node's, when found, comes in as a root file below.
    types: [],
  };
  // DAG files run on this installation's Node, so its globals and `node:` modules are in scope:
  // @types/node from the DAG repository, else this installation's; neither found, none (a DAG
  // then cannot use them without its own tsconfig). A root file rather than `types: ['node']`,
  // which would look for it from the working directory only.
  for (const from of [folder, INSTALLATION]) {
    const resolved = typescript.resolveTypeReferenceDirective('node', path.join(from, '__inferred type names__.ts'), options, typescript.sys);
    const file = resolved.resolvedTypeReferenceDirective?.resolvedFileName;
    if (file) return { options, extraRoots: [file] };
  }
  return { options, extraRoots: [] };
}

/** `flywheel` and its subpaths → this installation's declarations when built, else its TypeScript source. */
function sdkPaths(): Record<string, string[]> {
  return Object.fromEntries(sdkEntries().map((entry) => [entry.specifier, [existsSync(entry.types) ? entry.types : entry.source]]));
}

/**
 * A compiler host that decides a file's module format as the loader's resolve hook does
 * (core/loader/resolve-hooks.ts): a package.json without `type` (outside node_modules), or none at
 * all, means an ES module. Under NodeNext, TypeScript would take such a file as CommonJS and
 * reject a top-level `await` that runs fine.
 */
function loaderLikeHost(typescript: TypeScript, options: ts.CompilerOptions, folder: string): ts.CompilerHost {
  const host = typescript.createCompilerHost(options, true);
  const rootPackageJson = path.join(path.parse(folder).root, 'package.json');
  const isOwnPackageJson = (file: string) => path.basename(file) === 'package.json' && !file.split(/[\\/]/).includes('node_modules');
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (file) => fileExists(file) || path.resolve(file) === rootPackageJson;
  host.readFile = (file) => {
    const text = readFile(file);
    if (!isOwnPackageJson(file)) return text;
    if (text === undefined) return path.resolve(file) === rootPackageJson ? '{"type":"module"}' : undefined;
    try {
      const manifest: unknown = JSON.parse(text);
      if (typeof manifest === 'object' && manifest !== null && !Array.isArray(manifest) && !('type' in manifest)) return JSON.stringify({ ...manifest, type: 'module' });
    } catch {
      // not JSON: TypeScript reports it as it would have
    }
    return text;
  };
  return host;
}

/** Whether `file` lies inside `folder` (and not in a node_modules folder in it). */
function inside(folder: string, file: string): boolean {
  const relative = path.relative(folder, path.resolve(file));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) && !relative.split(path.sep).includes('node_modules');
}

function toProblem(typescript: TypeScript, diagnostic: ts.Diagnostic): TypeProblem {
  const problem: TypeProblem = {
    file: diagnostic.file ? path.resolve(diagnostic.file.fileName) : null,
    code: `TS${diagnostic.code}`,
    message: typescript.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
  };
  if (diagnostic.file && diagnostic.start !== undefined) {
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    Object.assign(problem, { line: line + 1, column: character + 1 }, enclosingDeclarations(typescript, diagnostic.file, diagnostic.start));
  }
  return problem;
}

/**
 * The innermost `dag({ dagId: '…' })` and `task({ taskId: '…' })` calls around a position, read
 * off the syntax tree (so it works for a file that failed to import too). A renamed import or a
 * computed id is not recognised: the problem then just has no DAG or task.
 */
function enclosingDeclarations(typescript: TypeScript, sourceFile: ts.SourceFile, position: number): { dagId?: string; taskId?: string } {
  const found: { dagId?: string; taskId?: string } = {};
  const visit = (node: ts.Node): void => {
    if (typescript.isCallExpression(node)) {
      const callee = typescript.isIdentifier(node.expression)
        ? node.expression.text
        : typescript.isPropertyAccessExpression(node.expression)
          ? node.expression.name.text
          : null;
      if (callee === 'dag' || callee === 'task') {
        const key = callee === 'dag' ? 'dagId' : 'taskId';
        const id = literalProperty(typescript, node.arguments[0], key);
        if (id !== undefined) found[key] = id;
      }
    }
    typescript.forEachChild(node, (child) => {
      if (child.pos <= position && position < child.end) visit(child);
    });
  };
  visit(sourceFile);
  return found;
}

function literalProperty(typescript: TypeScript, node: ts.Expression | undefined, key: string): string | undefined {
  if (!node || !typescript.isObjectLiteralExpression(node)) return undefined;
  for (const property of node.properties) {
    if (!typescript.isPropertyAssignment(property)) continue;
    const name = typescript.isIdentifier(property.name) || typescript.isStringLiteral(property.name) ? property.name.text : null;
    if (name === key && typescript.isStringLiteralLike(property.initializer)) return property.initializer.text;
  }
  return undefined;
}
