// The mocha runner the extension host loads through `extensionTestsPath` (code-server or @vscode/test-electron).
// It runs every *.test.js next to it and prints one result line the outer runner parses: the extension host's
// exit code says only pass/fail, and its console is the only other channel out.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';
import { formatResult, type SuiteResult } from './result';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 20_000, reporter: 'spec' });
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const result: SuiteResult = {
          passed: runner.stats?.passes ?? 0,
          failed: Math.max(failures, runner.stats?.failures ?? 0),
          pending: runner.stats?.pending ?? 0,
        };
        console.log(formatResult(result));
        if (result.failed > 0) reject(new Error(`${result.failed} test(s) failed`));
        else if (result.passed === 0) reject(new Error('no test ran'));
        else resolve();
      });
    } catch (err) {
      console.log(formatResult({ passed: 0, failed: 1, pending: 0 }));
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
