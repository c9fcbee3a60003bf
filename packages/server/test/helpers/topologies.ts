import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from '../../src/redis/embedded.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { waitFor } from './gateway.js';
import { directCommand, startTestRedis, type TestRedis } from './redis.js';

const run = promisify(execFile);

/** Runs one command on a fresh direct connection to 127.0.0.1:port. */
export function nodeCommand(port: number, ...args: string[]): Promise<unknown> {
  return directCommand(`redis://127.0.0.1:${port}`, args);
}

/** A Redis Cluster of real redis-server processes on loopback. */
export interface TestCluster {
  nodes: RedisServer[];
  /** `127.0.0.1:port,...` for CACHEGATE_REDIS_CLUSTER_NODES. */
  seeds: string;
  /** Ports of the current masters. */
  masterPorts(): Promise<number[]>;
  /** The port of the master serving a key, asked of the cluster itself. */
  masterPortOf(key: string): Promise<number>;
  /** FLUSHALL on every master. */
  flushAll(): Promise<void>;
  /** Waits until every replica has everything its master wrote (so a failover loses nothing). */
  waitForReplication(): Promise<void>;
  /** Starts a killed node again on its port and data directory: it rejoins (a former master as a replica). */
  restartNode(port: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `masters` masters with `replicasPerMaster` replicas each, joined with `redis-cli --cluster create`,
 * and waits until every node reports `cluster_state:ok`. A short node timeout makes failovers quick.
 */
export async function startTestCluster(masters = 3, replicasPerMaster = 1): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-cluster-'));
  const nodeConfig = (i: number, port?: number) =>
    startRedisServer({
      dir: join(dir, `node-${i}`),
      ...(port === undefined ? {} : { port }),
      config: [
        'appendonly no',
        'save ""',
        'cluster-enabled yes',
        'cluster-node-timeout 1000',
        'cluster-config-file nodes.conf',
        // A replica may take over however long it was cut off: tests kill masters right after start-up.
        'cluster-replica-validity-factor 0',
        // Start the replicas' first sync at once instead of waiting 5 s for more replicas to join.
        'repl-diskless-sync-delay 0',
      ],
    });
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicasPerMaster) }, (_, i) => nodeConfig(i)),
  );
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  await run('redis-cli', [
    '--cluster',
    'create',
    ...addresses,
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ]);
  const clusterOk = async () => {
    for (const node of nodes) {
      const info = String(await nodeCommand(node.port, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_state:ok')) return false;
    }
    return true;
  };
  await waitFor(clusterOk, 20_000, 'the cluster never reached cluster_state:ok');
  const replicasInSync = async () => {
    for (const node of nodes) {
      const info = String(await nodeCommand(node.port, 'INFO', 'replication'));
      if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
    }
    return true;
  };
  await waitFor(replicasInSync, 20_000, 'the replicas never finished their first sync');
  const cluster: TestCluster = {
    nodes,
    seeds: addresses.join(','),
    async masterPorts() {
      for (const node of nodes) {
        try {
          const slots = (await nodeCommand(node.port, 'CLUSTER', 'SLOTS')) as [
            number,
            number,
            [string, number],
          ][];
          return [...new Set(slots.map((range) => Number(range[2][1])))].sort();
        } catch {
          // That node is down; ask another.
        }
      }
      throw new Error('no cluster node answered');
    },
    async masterPortOf(key) {
      const slot = Number(await nodeCommand(nodes[0]?.port as number, 'CLUSTER', 'KEYSLOT', key));
      for (const node of nodes) {
        try {
          const slots = (await nodeCommand(node.port, 'CLUSTER', 'SLOTS')) as [
            number,
            number,
            [string, number],
          ][];
          const range = slots.find(([start, end]) => slot >= start && slot <= end);
          if (range) return Number(range[2][1]);
        } catch {
          // Ask another node.
        }
      }
      throw new Error(`no master found for ${key}`);
    },
    async flushAll() {
      for (const port of await cluster.masterPorts()) await nodeCommand(port, 'FLUSHALL');
    },
    async waitForReplication() {
      const caughtUp = async () => {
        for (const port of await cluster.masterPorts()) {
          const info = String(await nodeCommand(port, 'INFO', 'replication'));
          const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
          const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => m[1]);
          if (replicas.length === 0 || replicas.some((replicaOffset) => replicaOffset !== offset))
            return false;
        }
        return true;
      };
      await waitFor(caughtUp, 10_000, 'the replicas never caught up');
    },
    async restartNode(port) {
      const index = nodes.findIndex((node) => node.port === port);
      nodes[index] = await nodeConfig(index, port);
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** A master, its replicas and three Sentinels on loopback. */
export interface TestSentinel {
  master: RedisServer;
  /** The first replica. */
  replica: RedisServer;
  replicas: RedisServer[];
  sentinels: RedisServer[];
  /** `127.0.0.1:port,...` for CACHEGATE_REDIS_SENTINELS. */
  seeds: string;
  masterName: string;
  /** The port Sentinel currently names as master. */
  masterPort(): Promise<number>;
  /** Starts the original master again (after a kill); Sentinel turns it into a replica of the new master. */
  restartMaster(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the Sentinel set-up; a failover completes within a few seconds of the master dying. */
export async function startTestSentinel(masterName = 'cachegate', replicaCount = 1): Promise<TestSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-sentinel-'));
  const data = ['appendonly no', 'save ""', 'repl-diskless-sync-delay 0'];
  let master = await startRedisServer({ dir: join(dir, 'master'), config: data });
  const replicas = await Promise.all(
    Array.from({ length: replicaCount }, (_, i) =>
      startRedisServer({
        dir: join(dir, i === 0 ? 'replica' : `replica-${i}`),
        config: [...data, `replicaof 127.0.0.1 ${master.port}`],
      }),
    ),
  );
  const replica = replicas[0] as RedisServer;
  await waitFor(
    async () => {
      const info = String(await nodeCommand(master.port, 'INFO', 'replication'));
      return (info.match(/slave\d+:.*state=online/g) ?? []).length === replicaCount;
    },
    10_000,
    'the replicas never finished their first sync',
  );
  const sentinels = await Promise.all(
    [0, 1, 2].map((i) =>
      startRedisServer({
        dir: join(dir, `sentinel-${i}`),
        executable: 'redis-sentinel',
        config: [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
        ],
      }),
    ),
  );
  const setup: TestSentinel = {
    get master() {
      return master;
    },
    replica,
    replicas,
    sentinels,
    masterName,
    seeds: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    async masterPort() {
      for (const sentinel of sentinels) {
        try {
          const reply = (await nodeCommand(
            sentinel.port,
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            masterName,
          )) as string[];
          return Number(reply[1]);
        } catch {
          // Ask another Sentinel.
        }
      }
      throw new Error('no Sentinel answered');
    },
    async restartMaster() {
      master = await startRedisServer({ dir: join(dir, 'master'), config: data, port: master.port });
    },
    async stop() {
      await Promise.all([...sentinels, master, ...replicas].map((server) => server.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Sentinels discover each other over the master's pub/sub; wait until each sees the other two.
  await waitFor(
    async () => {
      for (const sentinel of sentinels) {
        const info = (await nodeCommand(sentinel.port, 'SENTINEL', 'MASTER', masterName)) as string[];
        const known = Number(info[info.indexOf('num-other-sentinels') + 1]);
        if (known < 2) return false;
      }
      return true;
    },
    15_000,
    'the Sentinels never found each other',
  );
  return setup;
}

/** A replica of a {@link TestReplicaSet}: it follows the primary through a proxy that can hold it back. */
export interface TestReplica {
  server: RedisServer;
  proxy: FaultProxy;
  /** `127.0.0.1:port` */
  address: string;
  /** The replication offset it has applied (ROLE), -1 while unlinked. */
  offset(): Promise<number>;
}

/** A standalone primary and replicas on loopback (`replicaof`), for CACHEGATE_REDIS_REPLICAS. */
export interface TestReplicaSet {
  primary: TestRedis;
  replicas: TestReplica[];
  /** `127.0.0.1:port,...` for CACHEGATE_REDIS_REPLICAS. */
  addresses: string;
  /** The primary's replication offset. */
  primaryOffset(): Promise<number>;
  /** Waits until every replica not held back has applied everything the primary wrote. */
  waitForReplicas(): Promise<void>;
  /** Starts a killed replica again, on its port, following the primary again. */
  restartReplica(index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a primary and `count` replicas, each replica following the primary through a fault proxy (hold()
 * stops the replica applying writes while it stays connected), and waits for their first sync.
 */
export async function startTestReplicaSet(
  count = 2,
  options: { password?: string } = {},
): Promise<TestReplicaSet> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-replicas-'));
  const { password } = options;
  const primary = await startTestRedis({ config: ['repl-diskless-sync-delay 0'], ...options });
  const auth = (port: number) => directCommandAt(port, password);
  const replicaConfig = (proxyPort: number) => [
    'appendonly no',
    'save ""',
    `replicaof 127.0.0.1 ${proxyPort}`,
    ...(password === undefined ? [] : [`masterauth ${password}`]),
  ];
  const replicas: TestReplica[] = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const proxy = await startFaultProxy(primary.port);
      const server = await startRedisServer({
        dir: join(dir, `replica-${i}`),
        config: replicaConfig(proxy.port),
        ...(password === undefined ? {} : { password }),
      });
      return {
        server,
        proxy,
        address: `127.0.0.1:${server.port}`,
        offset: async () => {
          const role = (await auth(server.port)('ROLE')) as unknown[];
          return role[3] === 'connected' ? Number(role[4]) : -1;
        },
      };
    }),
  );
  const primaryOffset = async () => Number(((await primary.command('ROLE')) as unknown[])[1]);
  const set: TestReplicaSet = {
    primary,
    replicas,
    addresses: replicas.map((replica) => replica.address).join(','),
    primaryOffset,
    async waitForReplicas() {
      const target = await primaryOffset();
      await waitFor(
        async () => {
          for (const replica of replicas) if ((await replica.offset()) < target) return false;
          return true;
        },
        15_000,
        'the replicas never caught up',
      );
    },
    async restartReplica(index) {
      const replica = replicas[index] as TestReplica;
      replica.server = await startRedisServer({
        dir: join(dir, `replica-${index}`),
        config: replicaConfig(replica.proxy.port),
        port: replica.server.port,
        ...(password === undefined ? {} : { password }),
      });
    },
    async stop() {
      await Promise.all(replicas.map((replica) => replica.proxy.close()));
      await Promise.all([...replicas.map((replica) => replica.server.stop()), primary.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await set.waitForReplicas();
  return set;
}

/** Runs commands on 127.0.0.1:port with a password, on a fresh connection each. */
function directCommandAt(port: number, password?: string) {
  return (...args: string[]) => directCommand(`redis://127.0.0.1:${port}`, args, password);
}
