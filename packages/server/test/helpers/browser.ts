import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's chromium (installed by .ci/run), or another Chromium-family browser found on PATH. */
export const browser = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0,
);

/** A page open in headless Chromium, driven over the DevTools protocol on a pipe (no port, no extra package). */
export interface OpenPage {
  /** Evaluates `expression` in the page and returns its value (JSON-serializable). */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens `url` in a headless browser whose viewport is `width` x `height` CSS pixels, once loaded.
 * Flags as the docs-page test used them: no sandbox as root, no background network traffic.
 */
export async function openPage(url: string, width: number, height = 900): Promise<OpenPage> {
  if (browser === undefined) throw new Error('no Chromium on PATH (apt-get install -y chromium)');
  const profile = mkdtempSync(join(tmpdir(), 'cachegate-chromium-'));
  const child: ChildProcess = spawn(
    browser,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      '--remote-debugging-pipe',
      'about:blank',
    ],
    // The protocol: commands in on fd 3, answers out on fd 4, each a JSON message ended by a NUL byte.
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  const waiting = new Map<number, { done: (value: unknown) => void; fail: (error: Error) => void }>();
  let buffered = '';
  fromBrowser.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let end = buffered.indexOf('\0');
    while (end !== -1) {
      const message = JSON.parse(buffered.slice(0, end)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      buffered = buffered.slice(end + 1);
      end = buffered.indexOf('\0');
      const waiter = message.id === undefined ? undefined : waiting.get(message.id);
      if (waiter === undefined) continue;
      waiting.delete(message.id as number);
      if (message.error) waiter.fail(new Error(message.error.message));
      else waiter.done(message.result);
    }
  });
  let nextId = 0;
  const send = <T>(method: string, params: object = {}, sessionId?: string) =>
    new Promise<T>((done, fail) => {
      const id = ++nextId;
      waiting.set(id, { done: done as (value: unknown) => void, fail });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  const close = async () => {
    const exited = new Promise((done) => child.once('exit', done));
    await send('Browser.close').catch(() => undefined);
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5_000))]);
    child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', {
      targetId,
      flatten: true,
    });
    await send(
      'Emulation.setDeviceMetricsOverride',
      { width, height, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    await send('Page.enable', {}, sessionId);
    await send('Page.navigate', { url }, sessionId);
    const evaluate = async <T>(expression: string): Promise<T> => {
      const { result } = await send<{ result: { value: T } }>(
        'Runtime.evaluate',
        { expression, returnByValue: true, awaitPromise: true },
        sessionId,
      );
      return result.value;
    };
    const deadline = Date.now() + 20_000;
    while ((await evaluate<string>('location.href + " " + document.readyState')) !== `${url} complete`) {
      if (Date.now() > deadline) throw new Error(`${url} did not load`);
      await new Promise((done) => setTimeout(done, 100));
    }
    return { evaluate, close };
  } catch (error) {
    await close();
    throw error;
  }
}
