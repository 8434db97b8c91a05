// Compiled with `tsc --strict` against the package's declarations by test/16-types.test.js.
// Every `@ts-expect-error` line must be a type error (tsc fails on an unused directive), so
// this file proves both what compiles and what does not.
import {
  ScriptRunner, ActionQueue, ExitError, TimeoutError, type JobDetails, type OverrunInfo, type LogAction,
  type ModuleSources,
} from 'luapool';

async function main(): Promise<void> {
  const actions = new ActionQueue();
  const runner = new ScriptRunner({ states: 2, threads: 1, sliceMs: 2, timeoutMs: 50, actions });

  const v: unknown = await runner.run('return 1');
  // @ts-expect-error: run() resolves with unknown, not with whatever the caller assumes
  const s: string = await runner.run('return 1');
  const d: JobDetails = await runner.run('return 1', { details: true, group: 'tenant:7' });
  const n: number = d.runMs + d.waitMs + d.slices + d.peakMemory;

  runner.on('overrun', (info: OverrunInfo) => console.log(info.jobId, info.state, info.afterMs));
  runner.on('log', (a: LogAction) => console.log(a.level, a.message));
  runner.on('close', () => undefined);
  // @ts-expect-error: no such event
  runner.on('lgo', () => undefined);
  // @ts-expect-error: a log listener gets a LogAction, not a number
  runner.on('log', (a: number) => a);

  runner.enqueue('return 1', { callback: (err, value) => console.log(err, value) });
  runner.enqueue('return 1', { deliver: 'actions', ctx: { id: 1 } });
  // @ts-expect-error: exactly one of callback and deliver
  runner.enqueue('return 1', {});
  // @ts-expect-error: not both
  runner.enqueue('return 1', { deliver: 'actions', callback: () => undefined });

  try {
    await runner.run('os.exit(1)');
  } catch (e) {
    if (e instanceof ExitError) console.log(e.exitCode, e.runMs);
    if (e instanceof TimeoutError) console.log(e.code);
  }
  // modules: sources by name, or a function (sync or async) answering a source or undefined
  const files: ModuleSources = { 'pl.utils': 'return {}', bytes: Buffer.from('return 1') };
  const libs = new ScriptRunner({ modules: files });
  const lazy = new ScriptRunner({ modules: async (name: string) => (name === 'x' ? 'return 1' : undefined) });
  lazy.invalidateModules();
  lazy.invalidateModules('x', 'y');
  // @ts-expect-error: a module source is text or bytes
  new ScriptRunner({ modules: { n: 1 } });
  // @ts-expect-error: module names are strings
  lazy.invalidateModules(1);
  await Promise.all([libs.close(), lazy.close()]);

  // @ts-expect-error: internal hooks are not part of the typed API
  runner.jobs;
  console.log(v, s, n);
  await runner.close();
}

void main;
