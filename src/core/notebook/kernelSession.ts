// A notebook's session with the kernel next to the cluster: the Jupyter server (started, or found running, by
// Cluster.startKernel) is reached through the cluster's own connection (Transport.forward, whose local port outlives
// dropped links), signed in with the token read over that connection, and spoken to with @jupyterlab/services.
// The session is the server's, keyed by the notebook: closing the editor and opening it again finds the same
// kernel, variables and all. The token is sent as a header, never in a URL.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { KernelAPI, KernelConnection, KernelMessage, ServerConnection, SessionAPI, type Kernel } from '@jupyterlab/services';
import WebSocket from 'ws';
import type { Cluster } from '../cluster/cluster';
import type { KernelStartOptions, KernelStatus } from '../cluster/kernel';
import type { ForwardHandle } from '../remote/transport';
import { trace } from '../trace';
import { cellOutput, type CellOutput } from './outputs';

/** How long a cell whose reply was lost to a dropped link waits, once the kernel answers again, before it is given up. */
const LOST_REPLY_GRACE_MS = 1000;
// A new kernel's Python imports IPython (and the user's startup) again: on a busy node, or from a network file
// system as on Gadi, that alone can take tens of seconds.
const RESTART_ANSWER_MS = 90_000;
/** How long the kernel may take to answer on its control channel (a thread of its own, free while a cell runs). */
const CONTROL_ANSWER_MS = 10_000;

export interface CellRun {
  status: 'ok' | 'error' | 'aborted';
  executionCount?: number;
  /** The link dropped while the cell ran and its reply never came: its outputs after the drop are lost. */
  lost: boolean;
}

export interface AttachOptions extends KernelStartOptions {
  /** Replaces the default: a WebSocket class (the extension host and Node tests use `ws`). */
  webSocket?: typeof WebSocket;
}

/** The server's session path for a notebook: stable for the notebook, and no local directory names leave the machine. */
export function sessionPath(notebookUri: string): string {
  const digest = createHash('sha256').update(notebookUri).digest('hex').slice(0, 12);
  const name = basename(decodeURIComponent(notebookUri.replace(/[?#].*$/, ''))) || 'notebook.ipynb';
  return `gadi-dask/${digest}/${name}`;
}

/** The kernel's Jupyter server reached from this machine: where it runs, its token, the forward to it. */
export interface KernelServer {
  status: KernelStatus;
  token: string;
  forward: ForwardHandle;
}

/**
 * Starts the cluster's kernel (or finds it running) and forwards a local port to its server through the cluster's
 * connection; the token is read over that connection. Close `forward` when done (the kernel runs on).
 */
export async function openKernelServer(cluster: Cluster, options: KernelStartOptions = {}): Promise<KernelServer> {
  const status = await cluster.startKernel(options);
  const token = (await cluster.transport.readFile(cluster.kernelTokenPath)).toString('utf8').trim();
  if (!token) throw new Error(`The kernel's token file ${cluster.kernelTokenPath} is empty on ${cluster.transport.host}; stop the kernel and start it again.`);
  return { status, token, forward: await cluster.transport.forward(status.host!, status.port!) };
}

/** The header that signs in to a kernel's server (Jupyter reads `Authorization: token …` on REST and websocket). */
export function tokenHeader(token: string): Record<string, string> {
  return { Authorization: `token ${token}` };
}

export class NotebookKernelSession {
  private reconnectSub?: { dispose(): void };
  private running = 0;

  private constructor(
    readonly cluster: Cluster,
    readonly status: KernelStatus,
    private readonly forward: ForwardHandle,
    private connection: Kernel.IKernelConnection,
    /** The session was already on the server (the kernel's variables are the user's earlier ones). */
    readonly reattached: boolean,
  ) {
    // The kernel connection gives up after a few quick tries; when the SSH link is back, try again.
    this.reconnectSub = cluster.transport.onStateChange((change) => {
      const kernel = this.connection;
      if (change.state === 'connected' && !kernel.isDisposed && kernel.connectionStatus !== 'connected') void kernel.reconnect().catch(() => undefined);
    });
    this.watch(connection);
  }

  /** The connection to the kernel; a new one when the last stopped hearing the kernel, and after each restart. */
  get kernel(): Kernel.IKernelConnection {
    return this.connection;
  }

  /** Starts the kernel (or finds it running), forwards to its server and opens this notebook's session there. */
  static async attach(cluster: Cluster, notebookUri: string, options: AttachOptions = {}): Promise<NotebookKernelSession> {
    const { status, token, forward } = await openKernelServer(cluster, options);
    try {
      const settings = serverSettings(forward.localPort, token, options.webSocket ?? WebSocket);
      const path = sessionPath(notebookUri);
      const existing = (await SessionAPI.listRunning(settings)).find((s) => s.path === path && s.kernel);
      const model = existing ?? await SessionAPI.startSession({ path, type: 'notebook', name: basename(path), kernel: { name: 'python3' } }, settings);
      const kernel = new KernelConnection({ model: model.kernel!, serverSettings: settings, handleComms: false });
      await waitConnected(kernel, 30_000);
      return new NotebookKernelSession(cluster, status, forward, kernel, existing !== undefined);
    } catch (e) {
      await forward.close().catch(() => undefined);
      throw e;
    }
  }

  get localPort(): number {
    return this.forward.localPort;
  }

  /** Whether a cell is running in this session now. */
  get busy(): boolean {
    return this.running > 0;
  }

  /**
   * Runs `code`, handing each output to `onOutput` as it arrives. When the link drops during the cell and the reply
   * is lost, the cell ends `lost` once the kernel answers again (its result is still in the kernel).
   */
  async execute(code: string, onOutput: (output: CellOutput) => void): Promise<CellRun> {
    const kernel = this.kernel;
    const future = kernel.requestExecute({ code, stop_on_error: true, allow_stdin: false });
    future.onIOPub = (msg) => {
      const output = cellOutput(msg.header.msg_type, msg.content as Record<string, unknown>);
      if (output) onOutput(output);
    };
    let dropped = false;
    let lost: (() => void) | undefined;
    const lostReply = new Promise<'lost'>((resolve) => (lost = () => resolve('lost')));
    const onStatus = (_: unknown, status: Kernel.ConnectionStatus) => {
      if (status !== 'connected') {
        dropped = true;
        return;
      }
      if (!dropped) return;
      // The shell channel answers in order: once kernel_info is answered, the cell's reply came or never will.
      void kernel.requestKernelInfo().then(() => setTimeout(() => lost?.(), LOST_REPLY_GRACE_MS), () => lost?.());
    };
    kernel.connectionStatusChanged.connect(onStatus);
    this.running += 1;
    try {
      const reply = await Promise.race([future.done as Promise<KernelMessage.IExecuteReplyMsg>, lostReply]);
      if (reply === 'lost') {
        future.dispose();
        return { status: 'aborted', lost: true };
      }
      const content = reply.content;
      return { status: content.status === 'ok' ? 'ok' : content.status === 'error' ? 'error' : 'aborted', executionCount: content.execution_count ?? undefined, lost: false };
    } catch (e) {
      // A future disposed by a restart or a closed connection: the cell did not finish here.
      if (kernel.isDisposed || /disposed|Canceled/i.test((e as Error).message)) return { status: 'aborted', lost: dropped };
      throw e;
    } finally {
      this.running -= 1;
      kernel.connectionStatusChanged.disconnect(onStatus);
    }
  }

  /** The kernel's own interrupt (SIGINT to the IPython process), not a kill. */
  interrupt(): Promise<void> {
    return this.kernel.interrupt();
  }

  /**
   * Restarts the kernel: its variables are gone, the cluster is not touched. Resolves once the new kernel answered a
   * cell. The new kernel is spoken to under a new client session: jupyter_server keeps what a dropped websocket was
   * reading under the client's session and gives it to that session's next websocket; around a restart it has given
   * back closed streams, and a connection given them hears nothing more (its log: "zmq message arrived on closed
   * channel"), however often it reconnects. A new session gets streams of its own.
   */
  async restart(): Promise<void> {
    const deadline = Date.now() + RESTART_ANSWER_MS;
    const silent = new Error(`The restarted kernel did not answer within ${RESTART_ANSWER_MS / 1000} s; restart it again, or stop it (Cancel Job on the kernel's job).`);
    const old = this.connection;
    // The server's restart call has no timeout of its own.
    if (!(await within(KernelAPI.restartKernel(old.id, old.serverSettings), RESTART_ANSWER_MS))) throw silent;
    for (;;) {
      await this.newConnection();
      // An empty silent cell: its answer says cells run again.
      const probe = this.connection.requestExecute({ code: '', silent: true, store_history: false, allow_stdin: false, stop_on_error: false });
      if (await within(probe.done, 5000)) return;
      probe.dispose();
      if (Date.now() >= deadline) throw silent;
      trace(`kernel ${this.connection.id}: the restarted kernel did not answer a cell; a new client session`);
    }
  }

  /** Leaves this connection (its waiting cells end aborted) for a new one, under a new client session. */
  private async newConnection(): Promise<void> {
    const fresh = this.connection.clone();
    this.adopt(fresh);
    await waitConnected(fresh, 30_000);
  }

  private adopt(fresh: Kernel.IKernelConnection): void {
    const old = this.connection;
    this.connection = fresh;
    this.watch(fresh);
    old.dispose();
  }

  /**
   * After a dropped link the server gives the reconnected websocket the streams it kept for the client's session; when
   * those were closed meanwhile, the connection hears nothing, and every cell sent on it waits for good. The kernel
   * answers kernel_info on its control channel even while a cell runs. A connection that gets no answer where a new
   * session does is deaf, and left for the new one; when neither hears, the kernel is busy (a long call holding
   * Python's lock) and the connection is kept, with its running cell.
   */
  private watch(connection: Kernel.IKernelConnection): void {
    let dropped = false;
    connection.connectionStatusChanged.connect((_, status) => {
      if (status !== 'connected') {
        dropped = true;
        return;
      }
      if (!dropped) return;
      dropped = false;
      void this.replaceIfDeaf(connection);
    });
  }

  private async replaceIfDeaf(connection: Kernel.IKernelConnection): Promise<void> {
    if (await heard(connection) || connection !== this.connection || connection.isDisposed) return;
    const fresh = connection.clone();
    const heardFresh = await waitConnected(fresh, 30_000).then(() => heard(fresh), () => false);
    if (!heardFresh || connection !== this.connection || connection.isDisposed) {
      fresh.dispose();
      return;
    }
    trace(`kernel ${connection.id}: deaf after the link came back, where a new client session is heard; that session takes over`);
    this.adopt(fresh);
  }

  /** Closes this editor's connection; the kernel keeps running on the cluster (until its idle timeout or walltime). */
  async close(): Promise<void> {
    this.reconnectSub?.dispose();
    this.reconnectSub = undefined;
    this.kernel.dispose();
    await this.forward.close().catch(() => undefined);
  }
}

/** Whether the kernel answers a kernel_info on `connection`'s control channel in time (no: a disposed connection). */
async function heard(connection: Kernel.IKernelConnection): Promise<boolean> {
  const request = KernelMessage.createMessage({ msgType: 'kernel_info_request', channel: 'shell', session: connection.clientId, content: {} });
  // Typed for shell by @jupyterlab/services; ipykernel handles it on control too (protocol 5.1 and later).
  let probe: Kernel.IControlFuture | undefined;
  try {
    probe = connection.sendControlMessage({ ...request, channel: 'control' } as unknown as KernelMessage.IControlMessage, true, true);
    if (await within(probe.done, CONTROL_ANSWER_MS)) return true;
  } catch {
    // a disposed connection
  }
  probe?.dispose();
  return false;
}

function serverSettings(port: number, token: string, Socket: typeof WebSocket): ServerConnection.ISettings {
  // Jupyter takes `Authorization: token …` on the websocket's handshake as on every REST call.
  class SignedInSocket extends Socket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: tokenHeader(token) });
    }
  }
  return ServerConnection.makeSettings({
    baseUrl: `http://127.0.0.1:${port}/`, wsUrl: `ws://127.0.0.1:${port}/`, token, appendToken: false,
    WebSocket: SignedInSocket as unknown as typeof globalThis.WebSocket,
  });
}

/** Whether `work` settled within `ms` (a rejection before then is thrown); no timer outlives the answer. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  work.catch(() => undefined); // a rejection after the bound is nobody's
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function waitConnected(kernel: Kernel.IKernelConnection, timeoutMs: number): Promise<void> {
  if (kernel.connectionStatus === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kernel.connectionStatusChanged.disconnect(on);
      reject(new Error(`The kernel's server did not open its websocket within ${timeoutMs / 1000} s.`));
    }, timeoutMs);
    const on = (_: unknown, status: Kernel.ConnectionStatus) => {
      if (status !== 'connected') return;
      clearTimeout(timer);
      kernel.connectionStatusChanged.disconnect(on);
      resolve();
    };
    kernel.connectionStatusChanged.connect(on);
  });
}
