#!/usr/bin/env node
// persistence (the seeds' script_demo): a pool of ONE lua_State keeps state across two
// calls. Shown both ways luapool offers it:
//
//   1. a context (runner.context(key)): a persistent environment pinned to one state,
//      in the default sandbox ('safe'), where plain jobs each get a fresh environment;
//   2. libs: 'all' (trusted code, plain Lua): every job runs in the state's own global
//      table, exactly like successive chunks given to the standalone `lua` interpreter.
'use strict';
const { ScriptRunner } = require('luapool');

const FIRST = `
  counter = (counter or 0) + 1
  function greet(who) return ("hello, %s (call #%d)"):format(who, counter) end
  return counter`;
const SECOND = `
  counter = (counter or 0) + 1
  return counter, greet and greet("second call") or "greet is not defined here"`;

function show(label, values) {
  console.log(`  ${label.padEnd(28)} -> ${values.map((v) => JSON.stringify(v ?? null)).join(', ')}`);
}

async function main() {
  // 1. safe sandbox + a context
  const safe = new ScriptRunner({ states: 1 });
  console.log(`1. libs 'safe', ${safe.states} state, a context`);
  const ctx = safe.context('demo');
  show('ctx.run(first)', await ctx.run(FIRST, { multret: true }));
  show('ctx.run(second)', await ctx.run(SECOND, { multret: true }));
  // The same state, outside the context: a fresh environment per job, nothing leaks.
  show('runner.run(second)', await safe.run(SECOND, { multret: true }));
  show('runner.run(second) again', await safe.run(SECOND, { multret: true }));
  await ctx.reset();
  show('ctx.run(second) after reset', await ctx.run(SECOND, { multret: true }));
  await safe.close();

  // 2. trusted code: the state's own globals
  const all = new ScriptRunner({ states: 1, libs: 'all' });
  console.log(`2. libs 'all', ${all.states} state, plain runner.run()`);
  show('runner.run(first)', await all.run(FIRST, { multret: true }));
  show('runner.run(second)', await all.run(SECOND, { multret: true }));
  show('runner.run(second) again', await all.run(SECOND, { multret: true }));
  await all.close();
  console.log('done: state persisted across calls in both modes');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
