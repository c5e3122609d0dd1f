// The installed `gadi-dask`'s background process (launch.ts starts it after a command that found none). As OpenSSH's
// ControlPersist keeps a signed-in connection for the next ssh, it keeps the connection a command signed in with,
// and its session agent, and runs the next commands of the same user, bundle and environment on them: a command
// then costs neither Node loading the bundle, nor the SSH sign-in, nor the agent's start. It signs in on its own
// with nobody to ask (keys and ssh-agent only, known host keys only): a command it holds no signed-in connection
// for is handed back before anything is done, and runs in its own process with the terminal. One command at a
// time; it leaves after the idle time without one.
import { unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { Readable } from 'node:stream';
import { ClusterManager } from '../core/cluster';
import type { ClusterConfig } from '../core/config/schema';
import { refusingPrompt } from '../core/remote/prompt';
import type { SshTransportPool } from '../core/remote/sshTransport';
import { neutralize } from '../core/serverText';
import { setTraceSink } from '../core/trace';
import { sshPoolFor, type CliIO, type Destination, type Kept } from './clusterCommands';
import { EXIT } from './exitCodes';
import { INTERRUPTED, type ServedRequest, type ServerLine } from './served';

/** A command run here has no terminal to read from: its stdin is empty. */
const noInput = () => Readable.from([]) as unknown as NodeJS.ReadStream;

type RunCommand = (argv: string[], io: CliIO, signal?: AbortSignal) => Promise<number>;
type Held = Kept & { pool: SshTransportPool };

/** Thrown by the connection source when this process holds no signed-in connection: nothing has been done yet. */
class NotHeld extends Error {}

const MAX_REQUEST_BYTES = 1 << 20;
const HELLO_TIMEOUT_MS = 120_000;
const SIGN_IN_RETRY_MS = 10 * 60_000;

export function serveCommands(socket: string, first: ServedRequest | undefined, idleSeconds: number, run: RunCommand): void {
  process.umask(0o077);
  // Per destination, the sign-in under way or done; undefined when it could not be done without a terminal: not
  // tried again for a while (no stream of failed sign-ins on the login node).
  const signIns = new Map<string, Promise<Held | undefined>>();
  const held = new Map<string, Held>();
  let busy = false;
  let idle: NodeJS.Timeout | undefined;
  let listening = false;

  const keyOf = (to: Exclude<Destination, 'local'>) => JSON.stringify([to.target, to.sshConfigFile ?? null, to.knownHostsFile ?? null]);

  const signIn = (to: Exclude<Destination, 'local'>, config: ClusterConfig) => {
    const key = keyOf(to);
    if (signIns.has(key)) return;
    const attempt = (async (): Promise<Held | undefined> => {
      let pool: SshTransportPool | undefined;
      try {
        pool = sshPoolFor(to, refusingPrompt);
        const transport = pool.open(to.target);
        await transport.exec('true');
        return { pool, transport, manager: new ClusterManager(transport, { mode: 'session' }) };
      } catch {
        void pool?.close();
        return undefined;
      }
    })();
    signIns.set(key, attempt);
    void attempt.then((h) => {
      if (!h) return void setTimeout(() => signIns.delete(key), SIGN_IN_RETRY_MS).unref();
      held.set(key, h);
      // The cluster's agent started too (a command meanwhile waits for the same start): the next command pays
      // for neither. Whatever goes wrong here, that command meets and reports.
      h.manager.agent.call('hello', {}, h.manager.cluster(config).environment, { timeoutMs: HELLO_TIMEOUT_MS }, 'the agent').catch(() => undefined);
    });
  };

  /** The connection a command asks for: held and signed in, or NotHeld (and, for next time, a sign-in). */
  const connectionFor = (to: Destination, config: ClusterConfig): Kept => {
    if (to === 'local') throw new NotHeld();
    const key = keyOf(to);
    const h = held.get(key);
    if (h && (h.transport.state === 'failed' || h.transport.state === 'closed')) {
      // It gave up reconnecting: a new sign-in, as a new process would make.
      held.delete(key);
      signIns.delete(key);
      h.manager.close();
      void h.pool.close();
    } else if (h?.transport.state === 'connected') {
      return h;
    }
    signIn(to, config);
    throw new NotHeld();
  };

  const leave = async () => {
    if (listening) server.close();
    listening = false;
    for (const h of held.values()) {
      h.manager.close();
      await h.pool.close().catch(() => undefined);
    }
    process.exit(0);
  };
  const rest = () => {
    clearTimeout(idle);
    idle = setTimeout(() => void leave(), idleSeconds * 1000);
  };

  const runFor = async (req: ServedRequest, conn: Socket, controller: AbortController) => {
    let committed = false;
    let declined = false;
    const waiting: ServerLine[] = [];
    const send = (line: ServerLine) => {
      if (!conn.destroyed) conn.write(`${JSON.stringify(line)}\n`);
    };
    // Nothing reaches the terminal until the command holds its connection: a command handed back prints nothing here.
    const emit = (line: ServerLine) => (committed ? send(line) : waiting.push(line));
    const commit = () => {
      if (committed) return;
      committed = true;
      send({ held: true });
      waiting.splice(0).forEach(send);
    };
    const writer = (tag: 'o' | 'e', isTTY: boolean) => ({
      isTTY,
      write(chunk: unknown, encoding?: unknown, done?: unknown) {
        emit(tag === 'o' ? { o: String(chunk) } : { e: String(chunk) });
        const callback = typeof encoding === 'function' ? encoding : done;
        if (typeof callback === 'function') queueMicrotask(() => (callback as () => void)());
        return true;
      },
    }) as unknown as NodeJS.WriteStream;
    const io: CliIO = {
      stdout: writer('o', req.tty.stdout),
      stderr: writer('e', req.tty.stderr),
      stdin: noInput(),
      cwd: req.cwd,
      elapsedMs: () => Date.now() - req.startedAt,
      connections: (to, config) => {
        try {
          if (conn.destroyed) throw new NotHeld(); // its command line left: it runs nothing
          const kept = connectionFor(to, config);
          commit();
          return kept;
        } catch (e) {
          if (e instanceof NotHeld) declined = true;
          throw e;
        }
      },
    };
    let code: number;
    try {
      process.chdir(req.cwd);
      code = await run(req.argv, io, controller.signal);
    } catch (e) {
      if (!committed) declined = true; // not even where it was run from: its own process says why
      io.stderr.write(`gadi-dask: ${neutralize(e instanceof Error ? e.message : String(e))}\n`);
      code = EXIT.failed;
    } finally {
      setTraceSink(undefined);
      try {
        process.chdir(homedir()); // no working directory of a command held open between commands
      } catch {
        // a home that is gone: the last command's directory stays
      }
    }
    if (declined) {
      send({ local: true });
    } else {
      commit();
      send({ exit: code });
    }
    conn.end();
  };

  const server = createServer((conn) => {
    let text = '';
    let controller: AbortController | undefined;
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('close', () => controller?.abort());
    conn.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_REQUEST_BYTES) return void conn.destroy();
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          return void conn.destroy();
        }
        if (controller) {
          if ((message as { signal?: unknown })?.signal !== 'SIGINT') continue;
          if (!controller.signal.aborted) {
            controller.abort(); // Ctrl-C: what runs is cancelled (remote commands are stopped)
          } else {
            conn.end(`${JSON.stringify({ exit: INTERRUPTED })}\n`);
            conn.destroy();
          }
          continue;
        }
        const req = requestOf(message);
        if (!req || busy) {
          conn.end(`${JSON.stringify({ local: true })}\n`);
          return;
        }
        busy = true;
        clearTimeout(idle);
        controller = new AbortController();
        void runFor(req, conn, controller).finally(() => {
          busy = false;
          rest();
        });
      }
    });
  });

  const listen = (retry: boolean) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE' || !retry) return void leave();
      // Another process listens there (leave it be), or one died and left its socket (take its place).
      const probe = createConnection(socket);
      probe.on('connect', () => {
        probe.destroy();
        void leave();
      });
      probe.on('error', () => {
        try {
          unlinkSync(socket);
        } catch {
          return void leave();
        }
        listen(false);
      });
    });
    server.listen(socket, () => {
      listening = true;
      process.once('exit', () => {
        try {
          unlinkSync(socket);
        } catch {
          // gone already
        }
      });
      rest();
      // The command that started this process ran in its own: learn where it connects, and sign in for the next.
      if (first) {
        const seen = new AbortController();
        const io: CliIO = {
          stdout: { write: () => true } as unknown as NodeJS.WritableStream,
          stderr: { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream,
          stdin: noInput(),
          cwd: first.cwd,
          connections: (to, config) => {
            if (to !== 'local') signIn(to, config);
            throw new NotHeld();
          },
        };
        void run(first.argv, io, seen.signal).catch(() => undefined).finally(() => setTraceSink(undefined));
      }
    });
  };
  process.on('SIGTERM', () => void leave());
  process.on('SIGHUP', () => undefined); // the terminal that started the first command may close
  listen(true);
}

function requestOf(m: unknown): ServedRequest | undefined {
  const r = m as Partial<ServedRequest> | null;
  const ok = !!r && Array.isArray(r.argv) && r.argv.every((a) => typeof a === 'string') && typeof r.cwd === 'string' &&
    typeof r.startedAt === 'number' && typeof r.tty?.stdout === 'boolean' && typeof r.tty?.stderr === 'boolean';
  return ok ? (r as ServedRequest) : undefined;
}
