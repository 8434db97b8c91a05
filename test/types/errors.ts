// Compiled with consumer.ts by test/16-types.test.js: every `@ts-expect-error` line must be
// a type error (tsc fails on a directive that is not needed), so misuse does not compile.
import { ScriptRunner, luaTypes, type EnqueueOptions } from 'luapool';
// @ts-expect-error: the addon's test hooks are not exported
import { _testing } from 'luapool';

async function misuse(): Promise<void> {
  const runner = new ScriptRunner();

  // @ts-expect-error: run() resolves with unknown, not with whatever the caller assumes
  const s: string = await runner.run('return 1');
  // @ts-expect-error: run<string>() resolves with a string, not a number
  const n: number = await runner.run<string>('return "x"');
  const str = await runner.run<string>('return "x"');
  // @ts-expect-error: a string has no toFixed
  str.toFixed(2);
  // @ts-expect-error: call<T>() too
  const c: boolean = await runner.call<number>('m', 'f');
  // @ts-expect-error: callMany<T>() resolves with T[]
  const m: string[] = await runner.callMany<number>('m', 'f', [[1]]);
  // @ts-expect-error: with settled, entries are outcomes, not values
  const settled: number[] = await runner.callMany<number>('m', 'f', [[1]], { settled: true });

  // @ts-expect-error: no such event
  runner.on('lgo', () => undefined);
  // @ts-expect-error: a log listener gets a LogAction, not a number
  runner.on('log', (a: number) => a);
  // @ts-expect-error: 'close' listeners get no arguments
  runner.on('close', (reason: string) => reason);
  // @ts-expect-error: emit checks its arguments too
  runner.emit('overrun', 42);

  // @ts-expect-error: exactly one of callback and deliver
  runner.enqueue('return 1', {});
  // @ts-expect-error: not both
  runner.enqueue('return 1', { deliver: 'actions', callback: () => undefined });
  // @ts-expect-error: deliver names where results go: only 'actions'
  const bad: EnqueueOptions = { deliver: 'mail' };

  // @ts-expect-error: options are checked
  new ScriptRunner({ libs: 'unsafe' });
  // @ts-expect-error: unknown options do not compile
  new ScriptRunner({ sates: 2 });
  // @ts-expect-error: a module source is text or bytes
  new ScriptRunner({ modules: { n: 1 } });
  // @ts-expect-error: module names are strings
  runner.invalidateModules(1);
  // @ts-expect-error: columns are typed arrays
  await runner.callColumns('m', 'f', { x: [1, 2, 3] });
  // @ts-expect-error: a signal is an AbortSignal
  await runner.run('return 1', { signal: 'stop' });
  // @ts-expect-error: host functions are functions
  luaTypes({ host: { spawn: 1 } });
  // @ts-expect-error: internal hooks are not part of the typed API
  runner.jobs;
  console.log(s, n, c, m, settled, bad, _testing);
}

void misuse;
