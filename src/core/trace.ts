// Where a command's time goes: the steps of a command (connecting, each agent request, its answer) reported to a
// sink the front end sets (the CLI with GADI_DASK_TRACE=1 prints them with the time since the process started).
// Without a sink, nothing is done.
export type TraceSink = (event: string) => void;

let sink: TraceSink | undefined;

export function setTraceSink(s: TraceSink | undefined): void {
  sink = s;
}

export function trace(event: string): void {
  sink?.(event);
}
