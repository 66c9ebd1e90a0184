/**
 * The benches' one flag parser, on commander (as the CLI). A bench declares its flags once, keyed
 * by the property it reads (`rawJobs` is `--raw-jobs`); `parseBenchFlags` adds `--json` and
 * `--help` (each flag with its default), and returns the typed values.
 *
 *   const flags = parseBenchFlags({
 *     name: 'bench:serve',
 *     description: 'Picks serving benchmark …',
 *     flags: { members: positiveInteger('N', 'members seeded', 20_000), reuse: boolean('reuse the data set') },
 *   });
 *
 * Bad input (a bad value, a missing value, an unknown flag, a stray argument) prints one line,
 * e.g. `error: --members must be a positive integer, got "abc"`, and exits 2 before the bench
 * touches anything; `--help` prints the flags and exits 0.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

/** One flag: how `--help` shows it, its default, and how its value is read. */
export interface Flag<T> {
  /** The value's name in `--help` (`N`, `S`, `DIR`, `1|2`); none for a boolean flag. */
  readonly arg: string | null;
  readonly description: string;
  /** The value when the flag is absent. */
  readonly default: T;
  /** Reads the raw value; throws InvalidArgumentError('must be …') on a bad one. */
  readonly parse: (raw: string) => T;
  /** Listed in `--help` (the parser enforces them). */
  readonly choices?: readonly string[];
}

type FlagValues<S extends Record<string, Flag<unknown>>> = { [K in keyof S]: S[K] extends Flag<infer T> ? T : never };

// ---------------------------------------------------------------------------------------------
// Value parsers: each throws InvalidArgumentError with the reason ("must be …"); the flag's name
// and the raw value are added by parseBenchFlags. Usable on their own with commander's argParser.
// ---------------------------------------------------------------------------------------------

/** An integer ≥ 1 (`1e3` and `0x10` read as numbers do; `1.5`, `abc`, `0`, `-2` do not). */
export function parsePositiveInteger(raw: string): number {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError('must be a positive integer');
  return value;
}

/** An integer in [min, max]. */
export function parseIntegerIn(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(max - min === 1 ? `must be ${min} or ${max}` : `must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/** One of `choices`. */
export function parseChoice<C extends string>(choices: readonly C[]): (raw: string) => C {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
    return raw as C;
  };
}

// ---------------------------------------------------------------------------------------------
// Flag builders. With a default the value is always set; without one it is `undefined` when the
// flag is absent.
// ---------------------------------------------------------------------------------------------

export function positiveInteger(arg: string, description: string, fallback: number): Flag<number>;
export function positiveInteger(arg: string, description: string): Flag<number | undefined>;
export function positiveInteger(arg: string, description: string, fallback?: number): Flag<number | undefined> {
  return { arg, description, default: fallback, parse: parsePositiveInteger };
}

/** An integer in [min, max] (`--runs 1|2`, a seed from 0). */
export function integerIn(arg: string, description: string, min: number, max: number, fallback: number): Flag<number> {
  return { arg, description, default: fallback, parse: parseIntegerIn(min, max) };
}

export function choice<C extends string>(arg: string, description: string, choices: readonly C[], fallback: C): Flag<C>;
export function choice<C extends string>(arg: string, description: string, choices: readonly C[]): Flag<C | undefined>;
export function choice<C extends string>(arg: string, description: string, choices: readonly C[], fallback?: C): Flag<C | undefined> {
  return { arg, description, default: fallback, parse: parseChoice(choices), choices };
}

/** A free-form string (a folder, a URL); `undefined` when absent. */
export function text(arg: string, description: string): Flag<string | undefined> {
  return { arg, description, default: undefined, parse: (raw) => raw };
}

/** A switch: true when given, else false. */
export function boolean(description: string): Flag<boolean> {
  return { arg: null, description, default: false, parse: () => true };
}

// ---------------------------------------------------------------------------------------------
// The parser.
// ---------------------------------------------------------------------------------------------

export interface BenchDefinition<S extends Record<string, Flag<unknown>>> {
  /** As in `npm run <name>`: `bench:scheduler`. */
  name: string;
  /** One or two sentences for `--help`. */
  description: string;
  /** The bench's flags, keyed by the property read (`rawJobs` is `--raw-jobs`); `json` is added. */
  flags: S;
  /** Shown after the flags in `--help`: the environment variables the bench reads. */
  environment?: string;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The commander Command for `definition` (exits are thrown, not taken: `parseBenchFlags` maps them to 0 / 2). */
export function benchCommand<S extends Record<string, Flag<unknown>>>(definition: BenchDefinition<S>): Command {
  if ('json' in definition.flags) throw new Error(`${definition.name}: --json is common to every bench; do not declare it`);
  const command = new Command(definition.name)
    .description(definition.description)
    .helpOption('-h, --help', 'list the flags and exit')
    .allowExcessArguments(false)
    .showHelpAfterError('(add --help to list the flags)')
    .exitOverride()
    .addOption(new Option('--json', 'print the report as JSON on stdout instead of the table'));
  for (const [key, flag] of Object.entries(definition.flags)) {
    const long = `--${kebab(key)}`;
    const option = new Option(flag.arg === null ? long : `${long} <${flag.arg}>`, flag.description);
    if (option.attributeName() !== key) throw new Error(`${definition.name}: flag key ${key} does not match ${long}`);
    if (flag.arg !== null) {
      if (flag.choices) option.choices(flag.choices); // listed in --help; the parser below enforces them
      if (flag.default !== undefined) option.default(flag.default);
      option.argParser((raw: string) => {
        try {
          return flag.parse(raw);
        } catch (error) {
          if (!(error instanceof InvalidArgumentError)) throw error;
          return command.error(`error: ${long} ${error.message}, got ${JSON.stringify(raw)}`, { exitCode: 2, code: 'bench.invalidFlag' });
        }
      });
    }
    command.addOption(option);
  }
  if (definition.environment) command.addHelpText('after', `\nEnvironment:\n${definition.environment.replace(/^/gm, '  ')}`);
  return command;
}

/**
 * Parses `argv` (the arguments after the script, `process.argv.slice(2)` by default) against the
 * bench's flags. On `--help` prints the help and exits 0; on bad input prints the error and exits 2.
 */
export function parseBenchFlags<S extends Record<string, Flag<unknown>>>(
  definition: BenchDefinition<S>,
  argv: readonly string[] = process.argv.slice(2),
): { json: boolean } & FlagValues<S> {
  const command = benchCommand(definition);
  try {
    command.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    throw error;
  }
  const given = command.opts<Record<string, unknown>>();
  const values: Record<string, unknown> = { json: given.json === true };
  for (const [key, flag] of Object.entries(definition.flags)) values[key] = given[key] ?? flag.default;
  return values as { json: boolean } & FlagValues<S>;
}
