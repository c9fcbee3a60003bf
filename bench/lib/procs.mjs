// Child processes of a run: pinning, readiness, CPU time and RSS from /proc, and cleanup.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';

/** CPU for the load generator and CPU for what is measured (gateway, Redis, reference servers). */
export const LOAD_CPU = '0';
export const SERVER_CPU = '1';

export const CLOCK_TICKS =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const running = new Set();

/** `[cmd, ...args]` prefixed with `taskset -c <cpu>` when `cpu` is set (pinned mode). */
export function pinned(cpu, command, args) {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', cpu, command, ...args]];
}

/** Moves a running process and all its threads to `cpu` (for processes spawned by library code). */
export function pinProcess(pid, cpu) {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset -p ${pid} failed: ${result.stderr}`);
}

/**
 * Starts a long-lived process whose output goes to `logFile`; it is killed when the run ends, even on
 * Ctrl-C. Inherited variables matching `dropEnv` are removed. `taskset` execs its command, so the returned pid is the pid of the command itself.
 */
export function startProcess({ command, args, env, cpu, logFile, dropEnv }) {
  const [cmd, argv] = pinned(cpu, command, args);
  const inherited = Object.entries(process.env).filter(([name]) => !dropEnv?.test(name));
  mkdirSync(join(logFile, '..'), { recursive: true });
  const log = createWriteStream(logFile);
  const child = spawn(cmd, argv, {
    env: { ...Object.fromEntries(inherited), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  running.add(child);
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  exited.then(() => running.delete(child));
  return {
    pid: child.pid,
    child,
    exited,
    logFile,
    isRunning: () => child.exitCode === null && child.signalCode === null,
    /** SIGTERM (the gateway drains and exits 0), SIGKILL after `graceMs`. */
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(force);
      return result;
    },
  };
}

/** Runs a command to completion and returns its stdout; throws with stderr on a non-zero exit. */
export function run(command, args, { env, cpu } = {}) {
  const [cmd, argv] = pinned(cpu, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${stderr || stdout}`));
    });
  });
}

/** Adds a process started elsewhere (the embedded Redis helper) to those killed when the run ends. */
export function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Kills every process this run started. */
export function killAll() {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * One request on a connection of its own (none stays open into a measurement); resolves to its status
 * and body. HTTPS accepts any certificate, for this request only: the one TLS server here is the bench's
 * own gateway, with the self-signed certificate the run made.
 */
export function httpRequest(url, { method = 'GET', headers, body } = {}) {
  const tls = url.startsWith('https:');
  const options = { method, headers, agent: false, ...(tls && { rejectUnauthorized: false }) };
  return new Promise((resolve, reject) => {
    const request = (tls ? https : http).request(url, options, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.once('error', reject);
      response.once('end', () => resolve({ status: response.statusCode, text }));
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** Polls `url` until it answers 200, or throws after `timeoutMs` with the tail of the process log. */
export async function waitForHttp(url, proc, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await httpRequest(url)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (!proc.isRunning() || Date.now() > deadline) {
      const log = safeRead(proc.logFile).split('\n').slice(-20).join('\n');
      throw new Error(
        `${url} did not become ready (${proc.isRunning() ? 'timeout' : 'process exited'}):\n${log}`,
      );
    }
    await sleep(50);
  }
}

/** The pid and every descendant (the node:cluster workers of a gateway primary). */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const tree = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift();
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** Resident set size in bytes, summed over the process and its descendants. */
export function rssBytes(pid) {
  let total = 0;
  for (const member of processTree(pid)) {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(safeRead(`/proc/${member}/status`));
    if (match) total += Number(match[1]) * 1024;
  }
  return total;
}

/** CPU seconds (user + system) used so far by the process and its descendants. */
export function cpuSeconds(pid) {
  let ticks = 0;
  for (const member of processTree(pid)) ticks += readStat(member)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}

/**
 * CPU seconds all CPUs (or CPU `cpu`) spent busy so far (user, nice, system, irq, softirq, and steal:
 * time the hypervisor gave to another guest). Minus what the bench's own processes used, this is the
 * load of everything else on the machine.
 */
export function machineBusySeconds(cpu) {
  const name = cpu === undefined ? 'cpu' : `cpu${cpu}`;
  const line =
    safeRead('/proc/stat')
      .split('\n')
      .find((l) => l.startsWith(`${name} `)) ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

function readStat(pid) {
  const text = safeRead(`/proc/${pid}/stat`);
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields.length < 13) return undefined;
  // After the name: state(3) ppid(4) ... utime(14) stime(15), so indexes 1, 11 and 12 here.
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

function safeRead(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
