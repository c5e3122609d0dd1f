export function failureLines(out: string): string[];
