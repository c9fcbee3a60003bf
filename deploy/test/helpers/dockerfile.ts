import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';

/** One instruction of a Dockerfile, continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** A build stage: its base image, name and instructions. */
export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages (global ARG defaults substituted into FROM). */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending !== '' && line.trim().startsWith('#')) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const [keyword = ''] = full.split(/\s+/);
    instructions.push({
      keyword: keyword.toUpperCase(),
      args: full.slice(keyword.length).trim(),
      line: start,
    });
  });

  const globals: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a, b) => globals[a ?? b] ?? '');
      stages.push({
        name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length),
        from,
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG')
        throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      const [key = '', value = ''] = instruction.args.split('=');
      globals[key] = value;
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD; throws on the shell form. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`not an exec-form array: ${args}`);
  }
  return parsed;
}

/** `KEY=value KEY2="value 2"` (ENV, LABEL) as a record. */
function parsePairs(args: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const match of args.matchAll(/(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key = '', value = ''] = match;
    pairs[key] = value.startsWith('"') ? (JSON.parse(value) as string) : value;
  }
  return pairs;
}

/** A stage built outside Docker: its root folder (the image's /app) and the environment its ENV set. */
export interface BuiltStage {
  name: string;
  /** Host folder standing for the image's APP_ROOT. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  healthcheck?: string[];
  exposed: string[];
}

/** The folder of the image that the builder maps onto a host folder; every path used must be under it. */
export const APP_ROOT = '/app';

/**
 * Runs the stages of a Dockerfile without Docker: each stage's `/app` is a host folder under `workDir`, COPY
 * copies from `context` (or an earlier stage), RUN runs the shell command there with the stage's ENV, and
 * WORKDIR, ENV, USER, EXPOSE, CMD and HEALTHCHECK are recorded. It refuses what it cannot reproduce
 * faithfully (a path outside /app, RUN --mount, ADD), so the Dockerfile stays within what is tested.
 */
export function buildOutsideDocker(
  stages: Stage[],
  context: string,
  workDir: string,
  runEnv: Record<string, string>,
): Map<string, BuiltStage> {
  const built = new Map<string, BuiltStage>();
  for (const stage of stages) {
    const root = join(workDir, `stage-${stage.name}`);
    mkdirSync(root, { recursive: true });
    const state: BuiltStage = { name: stage.name, root, workdir: APP_ROOT, env: {}, exposed: [] };
    const hostPath = (imagePath: string, line: number) => {
      const absolute = posix.resolve(state.workdir, imagePath);
      if (absolute !== APP_ROOT && !absolute.startsWith(`${APP_ROOT}/`)) {
        throw new Error(
          `line ${line}: ${imagePath} is outside ${APP_ROOT}; the outside-Docker build cannot map it`,
        );
      }
      return join(root, absolute.slice(APP_ROOT.length));
    };
    for (const { keyword, args, line } of stage.instructions) {
      switch (keyword) {
        case 'WORKDIR':
          state.workdir = posix.resolve(state.workdir, args);
          mkdirSync(hostPath(state.workdir, line), { recursive: true });
          break;
        case 'ENV':
          Object.assign(state.env, parsePairs(args));
          break;
        case 'COPY': {
          const parts = args.split(/\s+/);
          const flags = parts.filter((part) => part.startsWith('--'));
          const paths = parts.filter((part) => !part.startsWith('--'));
          const fromFlag = flags.find((flag) => flag.startsWith('--from='));
          const unknown = flags.filter((flag) => !flag.startsWith('--from='));
          if (unknown.length > 0)
            throw new Error(`line ${line}: COPY ${unknown.join(' ')} is not supported here`);
          const dest = paths.pop();
          if (!dest || paths.length === 0)
            throw new Error(`line ${line}: COPY needs a source and a destination`);
          let sourceRoot = context;
          let sourceWorkdir = '/';
          if (fromFlag) {
            const from = built.get(fromFlag.slice('--from='.length));
            if (!from) throw new Error(`line ${line}: no earlier stage ${fromFlag}`);
            sourceRoot = from.root;
            sourceWorkdir = APP_ROOT;
          }
          const destHost = hostPath(dest, line);
          const intoDir =
            dest.endsWith('/') ||
            paths.length > 1 ||
            (existsSync(destHost) && statSync(destHost).isDirectory());
          for (const source of paths) {
            let sourceHost: string;
            if (fromFlag) {
              const absolute = posix.resolve(sourceWorkdir, source);
              if (!absolute.startsWith(`${APP_ROOT}/`))
                throw new Error(`line ${line}: ${source} is outside ${APP_ROOT}`);
              sourceHost = join(sourceRoot, absolute.slice(APP_ROOT.length));
            } else {
              sourceHost = join(sourceRoot, source);
            }
            if (!existsSync(sourceHost))
              throw new Error(`line ${line}: COPY source ${source} does not exist`);
            const isDir = statSync(sourceHost).isDirectory();
            const target = isDir ? destHost : intoDir ? join(destHost, basename(source)) : destHost;
            mkdirSync(isDir ? target : dirname(target), { recursive: true });
            // Like Docker: a directory's contents are copied, and symlinks (npm workspace links) stay links.
            cpSync(sourceHost, target, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          if (args.startsWith('--'))
            throw new Error(`line ${line}: RUN flags are not supported here: ${args}`);
          const result = spawnSync('sh', ['-c', args], {
            cwd: hostPath(state.workdir, line),
            env: { ...runEnv, ...state.env },
            encoding: 'utf8',
            timeout: 240_000,
          });
          if (result.status !== 0) {
            throw new Error(
              `line ${line}: RUN ${args} failed (${result.status}):\n${result.stdout}\n${result.stderr}`,
            );
          }
          break;
        }
        case 'USER':
          state.user = args;
          break;
        case 'EXPOSE':
          state.exposed.push(...args.split(/\s+/));
          break;
        case 'CMD':
          state.cmd = execForm(args);
          break;
        case 'HEALTHCHECK': {
          const at = args.indexOf('CMD ');
          if (at < 0) throw new Error(`line ${line}: HEALTHCHECK without CMD`);
          state.healthcheck = execForm(args.slice(at + 4).trim());
          break;
        }
        case 'LABEL':
        case 'ARG':
          break;
        default:
          throw new Error(`line ${line}: ${keyword} is not supported by the outside-Docker build`);
      }
    }
    built.set(stage.name, state);
  }
  return built;
}

/** Maps image paths (under /app) in an argv to the host folder of a built stage. */
export function mapArgv(stage: BuiltStage, argv: string[]): string[] {
  return argv.map((arg) =>
    arg === APP_ROOT || arg.startsWith(`${APP_ROOT}/`) ? join(stage.root, arg.slice(APP_ROOT.length)) : arg,
  );
}

/**
 * Docker's .dockerignore matching (last matching pattern wins, `!` re-includes, `**` spans folders, a
 * pattern that matches a folder excludes what is under it).
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = posix
        .normalize((negate ? line.slice(1) : line).replace(/^\/+/, ''))
        .replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const char = pattern[i] as string;
        if (pattern.startsWith('**/', i)) {
          source += '(?:.*/)?';
          i += 2;
        } else if (pattern.startsWith('**', i)) {
          source += '.*';
          i += 1;
        } else if (char === '*') source += '[^/]*';
        else if (char === '?') source += '[^/]';
        else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const prefixes = parts.map((_part, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regex.test(prefix))) included = rule.negate;
    }
    return included;
  };
}

/** Reads a file of the repository (helper for the tests). */
export const readText = (path: string) => readFileSync(path, 'utf8');

/** The build's environment: the machine's, less what npm or vitest set for this process. */
function buildEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|NODE_|VITEST|CACHEGATE_|REDIS_|INIT_CWD$|PORT$|HOST$)/i.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' };
}

/**
 * `docker build -f deploy/Dockerfile .` without Docker, under `scratch`: the context as `docker build` would
 * see it from a checkout (the files git tracks or would track, as in a local build, less what .dockerignore
 * excludes), then every stage. `npm ci` prefers the local npm cache, so that a machine that ran `npm ci`
 * needs no network. Used by deploy/test/dockerfile.test.ts and scripts/image-dry-run.ts.
 */
export function buildImageOutsideDocker(repo: string, scratch: string) {
  const context = join(scratch, 'context');
  const listed = spawnSync(
    'git',
    ['-C', repo, 'ls-files', '--cached', '--others', '--exclude-standard', '-z'],
    {
      encoding: 'utf8',
    },
  );
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const included = dockerignoreFilter(readText(join(repo, '.dockerignore')));
  const contextFiles = listed.stdout
    .split('\0')
    .filter((path) => path !== '' && existsSync(join(repo, path)) && included(path));
  for (const path of contextFiles) {
    mkdirSync(dirname(join(context, path)), { recursive: true });
    cpSync(join(repo, path), join(context, path));
  }
  const stages = parseDockerfile(readText(join(repo, 'deploy', 'Dockerfile')));
  const built = buildOutsideDocker(stages, context, join(scratch, 'stages'), buildEnv());
  const runtime = built.get(stages.at(-1)?.name ?? '') as BuiltStage;
  return { contextFiles, stages, built, runtime };
}
