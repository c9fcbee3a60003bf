import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { listenForMetrics } from './metrics-listener.js';
import { relayHotKeys } from './warming/peers.js';

/** Options for {@link runWorkers}. */
export interface WorkersOptions {
  count: number;
  /** Settings the primary resolved (embedded Redis URL and password, development token), passed as env. */
  env: Record<string, string>;
  /** Serve aggregated metrics of all workers on this port. @default none */
  metricsPort?: number;
  host: string;
  log: Logger;
}

/**
 * The primary of `CACHEGATE_WORKERS` > 1: forks the workers, which share the listening port (node:cluster
 * hands connections out round-robin), replaces a worker that dies, and on SIGTERM/SIGINT has every worker
 * drain and exit before it resolves. With a metrics port, it serves the sum of all workers' metrics.
 */
export async function runWorkers(options: WorkersOptions): Promise<{ stopped: Promise<void> }> {
  const { count, env, log } = options;
  let stopping = false;
  const fork = () => cluster.fork(env);
  // A worker asked for the hot set gets every worker's, summed.
  relayHotKeys(cluster);
  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one in 1 s');
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000).unref();
  });
  const online = Array.from({ length: count }, () => {
    const worker = fork();
    return new Promise<void>((done, fail) => {
      worker.once('listening', () => done());
      worker.once('exit', (code) => fail(new Error(`worker exited with code ${code} during start-up`)));
    });
  });
  await Promise.all(online);
  log.info({ workers: count }, 'all workers listening');
  const aggregator = new AggregatorRegistry();
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : await listenForMetrics(options.metricsPort, options.host, aggregator.contentType, () =>
          aggregator.clusterMetrics(),
        );

  const stopped = new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping workers');
      metrics?.close();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      let left = workers.length;
      if (left === 0) done();
      for (const worker of workers) {
        worker.once('exit', () => {
          if (--left === 0) done();
        });
        worker.process.kill('SIGTERM');
      }
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // SIGHUP (reload tokens) goes to every worker.
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
  });
  return { stopped };
}
