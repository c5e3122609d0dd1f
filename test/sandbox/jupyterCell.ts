// One cell run in a Jupyter server reached at 127.0.0.1:<port> (a forward) with its token, through
// @jupyterlab/services over `ws`, as the kernel tests on the sandbox and on real PBS run it.
import { KernelManager, ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';

export interface CellResult {
  status: string;
  stdout: string;
  error: string;
}

export async function runCell(port: number, token: string, code: string): Promise<CellResult> {
  const settings = ServerConnection.makeSettings({
    baseUrl: `http://127.0.0.1:${port}/`, wsUrl: `ws://127.0.0.1:${port}/`, token, appendToken: true,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
  const kernels = new KernelManager({ serverSettings: settings });
  const kernel = await kernels.startNew({ name: 'python3' });
  try {
    const future = kernel.requestExecute({ code });
    let stdout = '';
    let error = '';
    future.onIOPub = (msg) => {
      if (msg.header.msg_type === 'stream') stdout += (msg.content as { text: string }).text;
      if (msg.header.msg_type === 'error') error += (msg.content as { traceback: string[] }).traceback.join('\n');
    };
    const reply = await future.done;
    return { status: String(reply.content.status), stdout, error };
  } finally {
    await kernel.shutdown().catch(() => undefined);
    kernels.dispose();
  }
}
