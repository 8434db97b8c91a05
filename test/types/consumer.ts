// Compiled with `tsc --strict` against the package's declarations by test/16-types.test.js,
// with @types/node (the repository) and without it (the packed tarball in a project that
// has only luapool and typescript). Everything here must compile; errors.ts holds what
// must not.
import {
  ScriptRunner, ActionQueue, ExitError, TimeoutError, LuaError, luaTypes, writeLuaTypes, luaVersion,
  type JobDetails, type OverrunInfo, type LogAction, type PostAction, type ModuleSources, type SettledResult,
  type EnqueueOptions, type LuaTypesOptions, type RunStats, type Profile,
} from 'luapool';

async function main(): Promise<void> {
  const actions = new ActionQueue();
  const runner = new ScriptRunner({ states: 2, threads: 1, sliceMs: 2, timeoutMs: 50, actions, host: { twice: (n: number) => 2 * n } });

  const v: unknown = await runner.run('return 1');
  const s: string = await runner.run<string>('return "one"');
  const d: JobDetails = await runner.run('return 1', { details: true, group: 'tenant:7' });
  const dn: JobDetails<number> = await runner.run<number>('return 1', { details: true });
  const n: number = d.runMs + d.waitMs + d.slices + d.peakMemory + dn.value;
  const abort = new AbortController();
  await runner.run('return 1', { signal: abort.signal, timeoutMs: 10, multret: true, args: [1, 'a', { b: [true] }] });

  runner.on('overrun', (info: OverrunInfo) => console.log(info.jobId, info.state, info.afterMs));
  runner.on('log', (a: LogAction) => console.log(a.level, a.message));
  runner.once('post', (a: PostAction) => console.log(a.name, a.data));
  runner.off('close', () => undefined);
  runner.on('close', () => undefined);

  runner.enqueue('return 1', { callback: (err, value) => console.log(err?.code, value) });
  const id: number = runner.enqueue('return 1', { deliver: 'actions', ctx: { id: 1 } });
  const byCallback: EnqueueOptions = { callback: () => undefined };
  runner.enqueue('return 1', byCallback);
  runner.cancel(id);

  runner.define('m', 'return { f = function(x) return x end }');
  const one: number = await runner.call<number>('m', 'f', [1]);
  const many: string[] = await runner.callMany<string>('m', 'f', [['a'], ['b']], { keys: ['a', 'b'] });
  const outcomes: SettledResult<number>[] = await runner.callMany<number>('m', 'f', [[1]], { settled: true });
  for (const o of outcomes) if (o.status === 'fulfilled') console.log(o.value + 1); else console.log(o.reason.code);
  const x = new Float64Array(4), hp = new Int32Array(4);
  await runner.callColumns('m', 'f', { x, hp }, { count: 4, first: 0, readonly: ['hp'], args: [0.5] });
  runner.share('world', { w: 160, h: 60 });
  const p = runner.profile({ sampleHz: 1000 });
  const profile: Profile = await p.stop();
  console.log(profile.cpuprofile.nodes.length, profile.summary().functions.length);
  const stats: RunStats = runner.stats();
  console.log(stats.waitMs.p99, stats.states[0].memory);

  const ctx = runner.context('entity:1');
  const count: number = await ctx.run<number>('count = (count or 0) + 1 return count');
  await ctx.call<number>('m', 'f', [1]);
  await ctx.reset();

  try {
    await runner.run('os.exit(1)');
  } catch (e) {
    if (e instanceof ExitError) console.log(e.exitCode, e.runMs);
    if (e instanceof TimeoutError) console.log(e.code);
    if (e instanceof LuaError) console.log(e.traceback, e.line);
  }
  // modules: sources by name, or a function (sync or async) answering a source or undefined
  const files: ModuleSources = { 'pl.utils': 'return {}', bytes: new Uint8Array([114, 101, 116, 117, 114, 110]) };
  const libs = new ScriptRunner({ modules: files });
  const lazy = new ScriptRunner({ modules: async (name: string) => (name === 'x' ? 'return 1' : undefined) });
  lazy.invalidateModules();
  lazy.invalidateModules('x', 'y');
  await Promise.all([libs.close(), lazy.close()]);

  // editor definitions for script authors
  const typesOptions: LuaTypesOptions = { host: { spawn: (kind: string) => kind }, libs: 'safe', source: 'host.js' };
  const text: string = luaTypes(typesOptions);
  writeLuaTypes('engine.lua', { libs: ['base', 'string'] });
  console.log(v, s, n, one, many, count, text.length, luaVersion, actions.drain().length);
  await runner.close({ force: true });
}

void main;
