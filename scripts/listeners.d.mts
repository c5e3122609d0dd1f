export const LAYER_ENV: string;
export function wideListeners(text: string): { address: string; pids: number[] }[];
export function watchListeners(): { seen(layer: string): string[] };
