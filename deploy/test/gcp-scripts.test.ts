import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Call, createFakeBin, type FakeBin, runScript } from './helpers/fake-cli.js';

const gcp = fileURLToPath(new URL('../gcp/', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const firewall = join(gcp, 'setup-firewall.sh');
const deploy = join(gcp, 'deploy.sh');
const functionsUrl = join(gcp, 'update-functions-url.sh');
const loadBalancer = join(gcp, 'setup-load-balancer.sh');

// A token-shaped value used only here; the assertions check it never shows up in argv or output.
const TOKEN = 'tkn_9f3Kq7LmZx2Vb8Nc4Rt6Yw1Hs5Dj0Pa';

let bin: FakeBin;
let scratch: string;

beforeAll(() => {
  bin = createFakeBin();
  scratch = mkdtempSync(join(tmpdir(), 'cachegate-gcp-test-'));
});
afterAll(() => {
  bin.remove();
  rmSync(scratch, { recursive: true, force: true });
});
afterEach(() => {
  bin.clear();
  bin.setRules([]);
});

const argvOf = (calls: Call[]) => calls.map((call) => [call.tool, ...call.argv]);

/**
 * A deploy/.env made as .env.example says: the example copied, each `<generate-me>` value replaced by a
 * secret (comments untouched, the header's mention of the placeholder included), then `changes` applied.
 */
function envFromExample(path: string, secret: string, changes: Record<string, string> = {}): string {
  let text = readFileSync(join(repo, 'deploy', '.env.example'), 'utf8');
  text = text.replace(/^(\w+)=<generate-me>$/gm, (_line, name: string) => `${name}=${secret}-${name}`);
  for (const [name, value] of Object.entries(changes)) {
    text = text.replace(new RegExp(`^${name}=.*$`, 'm'), `${name}=${value}`);
  }
  writeFileSync(path, text, { mode: 0o600 });
  return text;
}

describe.each([
  ['setup-firewall.sh', firewall],
  ['deploy.sh', deploy],
  ['update-functions-url.sh', functionsUrl],
  ['setup-load-balancer.sh', loadBalancer],
])('%s', (_name, script) => {
  it('prints its usage for --help, exits 0 and calls nothing', () => {
    const result = runScript(script, ['--help'], bin);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: /);
    expect(result.stdout).toContain('--dry-run');
    expect(bin.calls()).toEqual([]);
  });

  it('rejects an unknown argument with exit 2 and calls nothing', () => {
    const result = runScript(script, ['--no-such-flag'], bin);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown argument '--no-such-flag'");
    expect(bin.calls()).toEqual([]);
  });
});

describe('setup-firewall.sh', () => {
  const rule = [
    '--allow=tcp:8081',
    '--source-ranges=203.0.113.7/32,198.51.100.0/24',
    '--target-tags=cachegate',
    '--description=cachegate gateway (tcp:8081) from the allowed ranges only',
  ];

  it('creates the rule when it does not exist, then tags the instance', () => {
    bin.setRules([{ tool: 'gcloud', prefix: ['compute', 'firewall-rules', 'describe'], exit: 1 }]);
    const result = runScript(
      firewall,
      [
        '--project',
        'proj-1',
        '--source-ranges',
        '203.0.113.7/32, 198.51.100.0/24',
        '--instance=vm-1',
        '--zone',
        'us-central1-a',
      ],
      bin,
    );
    expect(result.stderr).not.toContain('warning');
    expect(result.status).toBe(0);
    expect(argvOf(bin.calls())).toEqual([
      [
        'gcloud',
        'compute',
        'firewall-rules',
        'describe',
        'allow-cachegate',
        '--project=proj-1',
        '--format=value(name)',
      ],
      [
        'gcloud',
        'compute',
        'firewall-rules',
        'create',
        'allow-cachegate',
        '--project=proj-1',
        '--network=default',
        '--direction=INGRESS',
        ...rule,
      ],
      [
        'gcloud',
        'compute',
        'instances',
        'add-tags',
        'vm-1',
        '--project=proj-1',
        '--zone=us-central1-a',
        '--tags=cachegate',
      ],
    ]);
  });

  it('updates the rule in place when it exists, with parameters from the environment', () => {
    bin.setRules([
      { tool: 'gcloud', prefix: ['compute', 'firewall-rules', 'describe'], stdout: 'cache-in\n' },
    ]);
    const result = runScript(firewall, ['--port', '443', '--rule', 'cache-in', '--target-tag', 'gw'], bin, {
      env: { CACHEGATE_SOURCE_RANGES: '203.0.113.7/32', CLOUDSDK_CORE_PROJECT: 'proj-env' },
    });
    expect(result.status).toBe(0);
    expect(argvOf(bin.calls())).toEqual([
      [
        'gcloud',
        'compute',
        'firewall-rules',
        'describe',
        'cache-in',
        '--project=proj-env',
        '--format=value(name)',
      ],
      [
        'gcloud',
        'compute',
        'firewall-rules',
        'update',
        'cache-in',
        '--project=proj-env',
        '--allow=tcp:443',
        '--source-ranges=203.0.113.7/32',
        '--target-tags=gw',
        '--description=cachegate gateway (tcp:443) from the allowed ranges only',
      ],
    ]);
    expect(result.stderr).toContain('add-tags VM --zone=ZONE --tags=gw');
  });

  it('warns when the source range is the whole internet, and still applies it', () => {
    bin.setRules([{ tool: 'gcloud', prefix: ['compute', 'firewall-rules', 'describe'], exit: 1 }]);
    const result = runScript(firewall, ['--source-ranges', '0.0.0.0/0'], bin);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('warning: source range 0.0.0.0/0 opens port 8081 to the whole internet');
    expect(bin.calls().map((call) => call.argv[2])).toEqual(['describe', 'create']);
    // Without --project the script leaves gcloud's configured project in force.
    expect(bin.calls()[1]?.argv.some((arg) => arg.startsWith('--project'))).toBe(false);
  });

  it('refuses to run without source ranges, or with a malformed one', () => {
    const missing = runScript(firewall, ['--project', 'p'], bin);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--source-ranges is required');
    const malformed = runScript(firewall, ['--source-ranges', '10.0.0.0/8,example.com'], bin);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("source range 'example.com' is not an IPv4 or IPv6 CIDR");
    expect(bin.calls()).toEqual([]);
  });

  it.each([
    '10.0.0.0/99',
    '10.0.0.0/33',
    '256.0.0.1/32',
    '10.0.0/8',
    '10.0.0.0/',
    '2001:db8::/129',
    '2001:db8::1::/64',
    '2001:db8:0:0:0:0:0:0:1/128',
    '12345::/16',
    'fe80:::1',
  ])('rejects the out-of-range or malformed source range %s before calling gcloud', (range) => {
    const result = runScript(firewall, ['--source-ranges', `203.0.113.7/32,${range}`], bin);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`source range '${range}' is not an IPv4 or IPv6 CIDR`);
    expect(bin.calls()).toEqual([]);
  });

  it('accepts IPv4 and IPv6 ranges with and without a prefix', () => {
    const ranges = '203.0.113.7,10.8.0.0/28,2001:db8::/32,::1,fe80::1:2/128,1:2:3:4:5:6:7:8/64';
    const result = runScript(firewall, ['--dry-run', '--source-ranges', ranges], bin);
    expect(result.stderr).not.toContain('error');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`--source-ranges=${ranges}`);
  });

  it('--dry-run prints the commands and runs none', () => {
    const result = runScript(
      firewall,
      [
        '--dry-run',
        '--project',
        'proj-1',
        '--source-ranges',
        '203.0.113.7/32',
        '--instance',
        'vm-1',
        '--zone',
        'z-1',
      ],
      bin,
    );
    expect(result.status).toBe(0);
    expect(bin.calls()).toEqual([]);
    expect(result.stdout).toContain(
      '[dry-run] gcloud compute firewall-rules create allow-cachegate --project=proj-1 --network=default --direction=INGRESS --allow=tcp:8081 --source-ranges=203.0.113.7/32 --target-tags=cachegate',
    );
    expect(result.stdout).toContain(
      '[dry-run] gcloud compute instances add-tags vm-1 --project=proj-1 --zone=z-1 --tags=cachegate',
    );
  });
});

describe('update-functions-url.sh', () => {
  const secretsOf = (calls: Call[]) => calls.map((call) => call.stdin.toString('utf8'));

  const expectTokenNeverShown = (result: { stdout: string; stderr: string }) => {
    for (const call of bin.calls()) expect(call.argv.join(' ')).not.toContain(TOKEN);
    expect(result.stdout).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
  };

  it("stores the VM's https URL and the token as Firebase secrets, on stdin, and redeploys", () => {
    bin.setRules([{ tool: 'gcloud', prefix: ['compute', 'instances', 'describe'], stdout: '34.120.1.2\n' }]);
    const result = runScript(
      functionsUrl,
      ['--project', 'proj-1', '--instance', 'vm-1', '--zone', 'z-1', '--deploy'],
      bin,
      {
        env: { CACHEGATE_TOKEN: TOKEN },
      },
    );
    expect(result.stderr).toContain(
      'Done: CACHEGATE_URL and CACHEGATE_TOKEN updated for https://34.120.1.2:8081',
    );
    expect(result.status).toBe(0);
    const calls = bin.calls();
    expect(argvOf(calls)).toEqual([
      [
        'gcloud',
        'compute',
        'instances',
        'describe',
        'vm-1',
        '--zone=z-1',
        '--project=proj-1',
        '--format=get(networkInterfaces[0].accessConfigs[0].natIP)',
      ],
      [
        'firebase',
        'functions:secrets:set',
        'CACHEGATE_URL',
        '--data-file=-',
        '--project=proj-1',
        '--non-interactive',
      ],
      [
        'firebase',
        'functions:secrets:set',
        'CACHEGATE_TOKEN',
        '--data-file=-',
        '--project=proj-1',
        '--non-interactive',
      ],
      ['firebase', 'deploy', '--only', 'functions', '--project=proj-1', '--non-interactive'],
    ]);
    expect(secretsOf(calls)).toEqual(['', 'https://34.120.1.2:8081', TOKEN, '']);
    expectTokenNeverShown(result);
  });

  it('creates missing Secret Manager secrets with gcloud, then adds versions; the token comes from a file', () => {
    const tokenFile = join(scratch, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    bin.setRules([
      { tool: 'gcloud', prefix: ['secrets', 'describe', 'CACHEGATE_URL'], stdout: 'CACHEGATE_URL\n' },
      { tool: 'gcloud', prefix: ['secrets', 'describe', 'CACHEGATE_TOKEN'], exit: 1 },
    ]);
    const result = runScript(
      functionsUrl,
      [
        '--target',
        'gcloud',
        '--url',
        'https://cache.example.com/',
        '--token-file',
        tokenFile,
        '--project',
        'proj-1',
      ],
      bin,
    );
    expect(result.status).toBe(0);
    const calls = bin.calls();
    expect(argvOf(calls)).toEqual([
      ['gcloud', 'secrets', 'describe', 'CACHEGATE_URL', '--project=proj-1', '--format=value(name)'],
      ['gcloud', 'secrets', 'versions', 'add', 'CACHEGATE_URL', '--project=proj-1', '--data-file=-'],
      ['gcloud', 'secrets', 'describe', 'CACHEGATE_TOKEN', '--project=proj-1', '--format=value(name)'],
      [
        'gcloud',
        'secrets',
        'create',
        'CACHEGATE_TOKEN',
        '--project=proj-1',
        '--replication-policy=automatic',
      ],
      ['gcloud', 'secrets', 'versions', 'add', 'CACHEGATE_TOKEN', '--project=proj-1', '--data-file=-'],
    ]);
    // The trailing slash and the file's newline are not part of the stored values.
    expect(secretsOf(calls)).toEqual(['', 'https://cache.example.com', '', '', TOKEN]);
    expect(result.stderr).toContain(
      '--set-secrets=CACHEGATE_URL=CACHEGATE_URL:latest,CACHEGATE_TOKEN=CACHEGATE_TOKEN:latest',
    );
    expectTokenNeverShown(result);
  });

  it('reads the token from stdin, and takes the seed name REDIS_SERVICE_API_KEY as an alias', () => {
    const fromStdin = runScript(
      functionsUrl,
      ['--url', 'https://cache.example.com', '--token-stdin', '--url-secret', 'REDIS_SERVICE_URL'],
      bin,
      {
        input: `${TOKEN}\n`,
      },
    );
    expect(fromStdin.status).toBe(0);
    expect(bin.calls().map((call) => [call.argv[1], call.stdin.toString()])).toEqual([
      ['REDIS_SERVICE_URL', 'https://cache.example.com'],
      ['CACHEGATE_TOKEN', TOKEN],
    ]);
    expect(fromStdin.stderr).toContain('Redeploy the functions');
    bin.clear();
    const alias = runScript(functionsUrl, ['--url', 'https://cache.example.com'], bin, {
      env: { REDIS_SERVICE_API_KEY: TOKEN },
    });
    expect(alias.status).toBe(0);
    expect(bin.calls()[1]?.stdin.toString()).toBe(TOKEN);
  });

  it('refuses plain http to a public address unless --allow-http, and accepts loopback', () => {
    const env = { CACHEGATE_TOKEN: TOKEN };
    const refused = runScript(functionsUrl, ['--url', 'http://34.120.1.2:8081'], bin, { env });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('the token would cross the network in clear');
    expect(bin.calls()).toEqual([]);
    expect(
      runScript(functionsUrl, ['--url', 'http://10.128.0.5:8081', '--allow-http'], bin, { env }).status,
    ).toBe(0);
    expect(runScript(functionsUrl, ['--url', 'http://127.0.0.1:8081'], bin, { env }).status).toBe(0);
  });

  it('never takes the token as a flag value, and rejects a missing or short token without printing it', () => {
    const asFlag = runScript(functionsUrl, ['--url', 'https://c.example.com', '--token', TOKEN], bin);
    expect(asFlag.status).toBe(2);
    expect(asFlag.stderr).toContain('--token is not accepted');
    expect(asFlag.stderr).not.toContain(TOKEN);
    const missing = runScript(functionsUrl, ['--url', 'https://c.example.com'], bin);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no token');
    const short = runScript(functionsUrl, ['--url', 'https://c.example.com'], bin, {
      env: { CACHEGATE_TOKEN: 'short-secret' },
    });
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('shorter than 16 characters');
    expect(short.stderr).not.toContain('short-secret');
    expect(bin.calls()).toEqual([]);
  });

  it('fails when the instance has no external address', () => {
    bin.setRules([{ tool: 'gcloud', prefix: ['compute', 'instances', 'describe'], stdout: '\n' }]);
    const result = runScript(functionsUrl, ['--instance', 'vm-1', '--zone', 'z-1'], bin, {
      env: { CACHEGATE_TOKEN: TOKEN },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('instance vm-1 has no external IPv4 address');
    expect(bin.calls().map((call) => call.tool)).toEqual(['gcloud']);
  });

  it('--dry-run prints the commands, runs none, and does not print the token', () => {
    for (const target of ['firebase', 'gcloud']) {
      const result = runScript(
        functionsUrl,
        ['--dry-run', '--target', target, '--instance', 'vm-1', '--zone', 'z-1', '--project', 'proj-1'],
        bin,
        { env: { CACHEGATE_TOKEN: TOKEN } },
      );
      expect(result.status).toBe(0);
      expect(bin.calls()).toEqual([]);
      expect(result.stdout).toContain(
        '[dry-run] gcloud compute instances describe vm-1 --zone=z-1 --project=proj-1',
      );
      expect(result.stdout).toMatch(
        /\[dry-run\] .*CACHEGATE_TOKEN --(project=proj-1 --)?data-file=- .*not shown/,
      );
      expectTokenNeverShown(result);
    }
  });
});

describe('deploy.sh', () => {
  // The commit deploy.sh ships by default; read per test, since commits may land while the suite runs.
  let head = '';
  beforeEach(() => {
    head = spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  });

  /** Runs, as the VM would, a script that deploy.sh passed to `gcloud compute ssh --command`. */
  const runOnVm = (call: Call) => {
    const script = call.argv.find((arg) => arg.startsWith('--command='))?.slice('--command='.length) ?? '';
    return spawnSync('bash', ['-c', script], {
      input: call.stdin,
      env: { ...process.env, PATH: `${bin.dir}:${process.env.PATH ?? ''}` },
      encoding: 'utf8',
    });
  };

  it('installs the env file, ships the commit and starts the stack; the VM-side scripts work', () => {
    const vm = join(scratch, 'vm-opt');
    const envFile = join(scratch, 'prod.env');
    const envText = envFromExample(envFile, 'from-test-env-file-0123456789');
    const result = runScript(
      deploy,
      [
        '--project',
        'proj-1',
        '--instance',
        'vm-1',
        '--zone',
        'z-1',
        '--env-file',
        envFile,
        '--remote-dir',
        vm,
        '--profile',
        'monitoring',
        '--iap',
      ],
      bin,
    );
    expect(result.stderr).not.toContain('error');
    expect(result.status).toBe(0);
    const calls = bin.calls();
    const ssh = [
      'gcloud',
      'compute',
      'ssh',
      'vm-1',
      '--zone=z-1',
      '--project=proj-1',
      '--tunnel-through-iap',
    ];
    expect(argvOf(calls).map((argv) => argv.slice(0, -1))).toEqual([ssh, ssh]);
    expect(calls[0]?.argv.at(-1)).toBe(
      `--command=set -euo pipefail; sudo mkdir -p ${vm}; sudo sh -c 'umask 077 && cat > ${vm}/.env'`,
    );
    expect(calls[0]?.stdin.toString()).toBe(envText);
    expect(result.stderr).not.toContain('from-test-env-file');
    expect(calls[1]?.argv.at(-1)).toContain(
      `sudo docker compose --project-name cachegate --env-file ${vm}/.env -f ${vm}/releases/${head}/deploy/compose.yaml --profile monitoring up -d --build --wait --remove-orphans`,
    );

    // Replay both on "the VM": sudo and docker are fakes, everything else is real.
    bin.clear();
    for (const call of calls) {
      const run = runOnVm(call);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    }
    expect(readFileSync(join(vm, '.env'), 'utf8')).toContain('from-test-env-file');
    expect(statSync(join(vm, '.env')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(join(vm, 'current'))).toBe(join(vm, 'releases', head));
    expect(existsSync(join(vm, 'current', 'deploy', 'compose.yaml'))).toBe(true);
    expect(existsSync(join(vm, 'current', 'packages', 'server', 'package.json'))).toBe(true);
    expect(argvOf(bin.calls())).toEqual([
      [
        'docker',
        'compose',
        '--project-name',
        'cachegate',
        '--env-file',
        `${vm}/.env`,
        '-f',
        `${vm}/releases/${head}/deploy/compose.yaml`,
        '--profile',
        'monitoring',
        'up',
        '-d',
        '--build',
        '--wait',
        '--remove-orphans',
      ],
    ]);
  });

  it('keeps only the newest --keep releases on the VM', () => {
    const vm = join(scratch, 'vm-keep');
    mkdirSync(join(vm, 'releases', 'old-1'), { recursive: true });
    mkdirSync(join(vm, 'releases', 'old-2'), { recursive: true });
    const now = Date.now() / 1000;
    utimesSync(join(vm, 'releases', 'old-1'), now - 200, now - 200);
    utimesSync(join(vm, 'releases', 'old-2'), now - 100, now - 100);
    writeFileSync(join(vm, '.env'), 'X=1\n');
    const result = runScript(
      deploy,
      ['--instance', 'vm-1', '--zone', 'z-1', '--remote-dir', vm, '--keep', '2'],
      bin,
    );
    expect(result.status).toBe(0);
    const [call] = bin.calls();
    expect(call).toBeDefined();
    const run = runOnVm(call as Call);
    expect(run.status).toBe(0);
    expect(
      spawnSync('ls', [join(vm, 'releases')], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .sort(),
    ).toEqual([head, 'old-2'].sort());
  });

  it('stops on the VM when no .env was ever installed, before touching the running stack', () => {
    const vm = join(scratch, 'vm-empty');
    const result = runScript(deploy, ['--instance', 'vm-1', '--zone', 'z-1', '--remote-dir', vm], bin);
    expect(result.status).toBe(0);
    const [call] = bin.calls();
    bin.clear();
    const run = runOnVm(call as Call);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`No ${vm}/.env on the VM: deploy once with --env-file`);
    expect(bin.calls()).toEqual([]);
  });

  it('refuses an env file that still has the example placeholders, and missing parameters', () => {
    const placeholders = runScript(
      deploy,
      ['--instance', 'vm-1', '--zone', 'z-1', '--env-file', join(repo, 'deploy', '.env.example')],
      bin,
    );
    expect(placeholders.status).toBe(2);
    expect(placeholders.stderr).toContain(
      'still has <generate-me> placeholders (REDIS_PASSWORD, CACHEGATE_TOKEN, GRAFANA_ADMIN_PASSWORD)',
    );
    // One value left is named alone; the comments that mention the placeholder never count.
    const oneLeft = join(scratch, 'one-left.env');
    envFromExample(oneLeft, 'generated-secret-0123456789', { CACHEGATE_TOKEN: '<generate-me>' });
    const left = runScript(deploy, ['--instance', 'vm-1', '--zone', 'z-1', '--env-file', oneLeft], bin);
    expect(left.status).toBe(2);
    expect(left.stderr).toContain('still has <generate-me> placeholders (CACHEGATE_TOKEN)');
    expect(runScript(deploy, ['--zone', 'z-1'], bin).stderr).toContain('--instance is required');
    expect(runScript(deploy, ['--instance', 'vm-1'], bin).stderr).toContain('--zone is required');
    expect(
      runScript(deploy, ['--instance', 'vm-1', '--zone', 'z', '--ref', 'no-such-ref-x'], bin).stderr,
    ).toContain("--ref 'no-such-ref-x' is not a commit");
    expect(bin.calls()).toEqual([]);
  });

  it('keeps the tokens and TLS folders out of the release folders, refusing an env file that makes one relative', () => {
    const example = readFileSync(join(repo, 'deploy', '.env.example'), 'utf8');
    expect(example).toMatch(/^TOKENS_DIR=\/opt\/cachegate\/tokens$/m);
    expect(example).toMatch(/^TLS_DIR=\/opt\/cachegate\/tls$/m);
    for (const folder of ['TOKENS_DIR', 'TLS_DIR']) {
      const envFile = join(scratch, `relative-${folder}.env`);
      envFromExample(envFile, 'generated-secret-0123456789', { [folder]: './here' });
      const result = runScript(
        deploy,
        ['--instance', 'vm-1', '--zone', 'z-1', '--remote-dir', '/srv/cg', '--env-file', envFile],
        bin,
      );
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`sets ${folder}=./here, a relative path`);
      expect(result.stderr).toContain(`${folder}=/srv/cg/${folder === 'TLS_DIR' ? 'tls' : 'tokens'}`);
    }
    expect(bin.calls()).toEqual([]);
  });

  it('--dry-run prints the commands and runs none', () => {
    const envFile = join(scratch, 'dry.env');
    envFromExample(envFile, 'do-not-print-this-value-0123');
    const result = runScript(
      deploy,
      ['--dry-run', '--instance', 'vm-1', '--zone', 'z-1', '--env-file', envFile],
      bin,
    );
    expect(result.status).toBe(0);
    expect(bin.calls()).toEqual([]);
    expect(result.stdout).toContain(
      `[dry-run] gcloud compute ssh vm-1 --zone=z-1 --command=<script below> < ${envFile} (content not shown)`,
    );
    expect(result.stdout).toContain(
      `[dry-run] git -C ${repo.replace(/\/$/, '')} archive --format=tar.gz ${head} | gcloud compute ssh vm-1 --zone=z-1`,
    );
    expect(result.stdout).toContain('up -d --build --wait --remove-orphans');
    expect(result.stdout + result.stderr).not.toContain('do-not-print-this-value');
  });
});

describe('setup-load-balancer.sh', () => {
  const args = [
    '--project',
    'proj-1',
    '--instances',
    'vm-1,vm-2',
    '--zone',
    'z-1',
    '--domain',
    'cache.example.com',
  ];
  const p = '--project=proj-1';
  /** Every gcloud call that creates or changes something, in order. */
  const creates = [
    ['compute', 'instance-groups', 'unmanaged', 'create', 'cachegate-ig', '--zone=z-1', p],
    [
      'compute',
      'instance-groups',
      'unmanaged',
      'add-instances',
      'cachegate-ig',
      '--zone=z-1',
      p,
      '--instances=vm-1,vm-2',
    ],
    [
      'compute',
      'instance-groups',
      'unmanaged',
      'set-named-ports',
      'cachegate-ig',
      '--zone=z-1',
      p,
      '--named-ports=cachegate:8081',
    ],
    [
      'compute',
      'health-checks',
      'create',
      'http',
      'cachegate-readyz',
      p,
      '--port=8081',
      '--request-path=/readyz',
      '--check-interval=5s',
      '--timeout=3s',
      '--healthy-threshold=2',
      '--unhealthy-threshold=2',
    ],
    [
      'compute',
      'firewall-rules',
      'create',
      'allow-cachegate-lb',
      p,
      '--network=default',
      '--direction=INGRESS',
      '--allow=tcp:8081',
      '--source-ranges=35.191.0.0/16,130.211.0.0/22',
      '--target-tags=cachegate',
      '--description=cachegate: Google load balancer proxies and health checks (tcp:8081)',
    ],
    [
      'compute',
      'backend-services',
      'create',
      'cachegate-backend',
      '--global',
      p,
      '--load-balancing-scheme=EXTERNAL_MANAGED',
      '--protocol=HTTP',
      '--port-name=cachegate',
      '--health-checks=cachegate-readyz',
      '--timeout=30s',
      '--connection-draining-timeout=15s',
    ],
    [
      'compute',
      'backend-services',
      'add-backend',
      'cachegate-backend',
      '--global',
      p,
      '--instance-group=cachegate-ig',
      '--instance-group-zone=z-1',
      '--balancing-mode=UTILIZATION',
      '--max-utilization=0.8',
    ],
    [
      'compute',
      'url-maps',
      'create',
      'cachegate-url-map',
      '--global',
      p,
      '--default-service=cachegate-backend',
    ],
    ['compute', 'ssl-certificates', 'create', 'cachegate-cert', '--global', p, '--domains=cache.example.com'],
    [
      'compute',
      'target-https-proxies',
      'create',
      'cachegate-https-proxy',
      '--global',
      p,
      '--url-map=cachegate-url-map',
      '--ssl-certificates=cachegate-cert',
    ],
    ['compute', 'addresses', 'create', 'cachegate-ip', '--global', p, '--ip-version=IPV4'],
    [
      'compute',
      'forwarding-rules',
      'create',
      'cachegate-https',
      '--global',
      p,
      '--load-balancing-scheme=EXTERNAL_MANAGED',
      '--address=cachegate-ip',
      '--target-https-proxy=cachegate-https-proxy',
      '--ports=443',
    ],
  ];
  const changes = (calls: Call[]) =>
    argvOf(calls)
      .filter((argv) => !argv.includes('describe') && !argv.includes('list-instances'))
      .map((argv) => argv.slice(1));

  it("creates the instance group, the /readyz health check, the firewall for Google's ranges and the load balancer", () => {
    bin.setRules([
      {
        tool: 'gcloud',
        prefix: ['compute', 'addresses', 'describe', 'cachegate-ip', '--format=value(address)'],
        stdout: '34.111.2.3\n',
      },
      // Nothing exists yet: every lookup fails.
      ...[
        ['instance-groups', 'unmanaged', 'describe'],
        ['instance-groups', 'unmanaged', 'list-instances'],
        ['health-checks', 'describe'],
        ['firewall-rules', 'describe'],
        ['backend-services', 'describe'],
        ['url-maps', 'describe'],
        ['ssl-certificates', 'describe'],
        ['target-https-proxies', 'describe'],
        ['addresses', 'describe'],
        ['forwarding-rules', 'describe'],
      ].map((lookup) => ({ tool: 'gcloud', prefix: ['compute', ...lookup], exit: 1 })),
    ]);
    const result = runScript(loadBalancer, args, bin);
    expect(result.stderr).not.toContain('error');
    expect(result.status).toBe(0);
    expect(changes(bin.calls())).toEqual(creates);
    expect(result.stderr).toContain('Point an A record for cache.example.com at 34.111.2.3');
  });

  it('run again, creates nothing that exists and adds only the VMs missing from the group', () => {
    bin.setRules([
      {
        tool: 'gcloud',
        prefix: ['compute', 'instance-groups', 'unmanaged', 'list-instances'],
        stdout: 'vm-1\n',
      },
      {
        tool: 'gcloud',
        prefix: ['compute', 'backend-services', 'describe'],
        stdout:
          'https://www.googleapis.com/compute/v1/projects/proj-1/zones/z-1/instanceGroups/cachegate-ig\n',
      },
    ]);
    const result = runScript(loadBalancer, args, bin);
    expect(result.status).toBe(0);
    expect(changes(bin.calls())).toEqual([
      [
        'compute',
        'instance-groups',
        'unmanaged',
        'add-instances',
        'cachegate-ig',
        '--zone=z-1',
        p,
        '--instances=vm-2',
      ],
      creates[2],
    ]);
    expect(result.stderr).toContain('health check cachegate-readyz exists: kept as it is');
  });

  it('--dry-run prints every command and runs none; an HTTPS gateway gets an HTTPS health check', () => {
    const result = runScript(
      loadBalancer,
      ['--dry-run', ...args, '--backend-protocol', 'HTTPS', '--port', '443'],
      bin,
    );
    expect(result.status).toBe(0);
    expect(bin.calls()).toEqual([]);
    expect(result.stdout).toContain(
      '[dry-run] gcloud compute health-checks create https cachegate-readyz --project=proj-1 --port=443 --request-path=/readyz',
    );
    expect(result.stdout).toContain(
      '--allow=tcp:443 --source-ranges=35.191.0.0/16,130.211.0.0/22 --target-tags=cachegate',
    );
    expect(result.stdout).toContain('--protocol=HTTPS --port-name=cachegate');
    expect(result.stdout.trim().split('\n')).toHaveLength(creates.length);
  });

  it('refuses missing or malformed parameters before calling gcloud', () => {
    const cases: [string[], string][] = [
      [['--zone', 'z', '--domain', 'a.example.com'], '--instances is required'],
      [['--instances', 'vm', '--zone', 'z'], '--domain is required'],
      [
        ['--instances', 'vm', '--zone', 'z', '--domain', 'not a name'],
        "--domain 'not a name' is not a DNS name",
      ],
      [
        ['--instances', 'VM_1', '--zone', 'z', '--domain', 'a.example.com'],
        "instance 'VM_1' is not a valid VM name",
      ],
      [
        ['--instances', 'vm', '--zone', 'z', '--domain', 'a.example.com', '--backend-protocol', 'TCP'],
        '--backend-protocol must be HTTP or HTTPS',
      ],
      [
        ['--instances', 'vm', '--zone', 'z', '--domain', 'a.example.com', '--port', '70000'],
        '--port must be a TCP port number',
      ],
    ];
    for (const [argv, message] of cases) {
      const result = runScript(loadBalancer, argv, bin);
      expect(result.status, message).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect(bin.calls()).toEqual([]);
  });
});
