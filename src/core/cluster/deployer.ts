// The runtime is deployed once per connection, for every cluster on it; a failed deploy is forgotten so the next
// action tries again.
import type { Transport } from '../remote/transport';
import type { ActionOptions } from './actions';
import { deployRuntime, type DeployResult } from './deploy';
import type { RuntimeBundle } from './runtimeBundle';

/** Deploys the runtime once per connection; `deploy()` checks again. */
export class Deployer {
  private done?: Promise<DeployResult>;
  constructor(readonly transport: Transport, readonly runtime: RuntimeBundle) {}

  deploy(options: ActionOptions = {}): Promise<DeployResult> {
    const p = deployRuntime(this.transport, { ...options, bundle: this.runtime });
    this.done = p;
    // A failed deploy is forgotten (the caller gets the error), so the next action tries again.
    p.catch(() => {
      if (this.done === p) this.done = undefined;
    });
    return p;
  }

  ensure(options: ActionOptions = {}): Promise<DeployResult> {
    return this.done ?? this.deploy(options);
  }
}
