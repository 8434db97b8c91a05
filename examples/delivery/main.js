// The three ways a job's result comes back: a Promise, a callback, or the ActionQueue at
// the game loop's frame barrier. Run: node examples/delivery/main.js
'use strict';
const { ScriptRunner, ActionQueue } = require('luapool');

async function main() {
  const actions = new ActionQueue();
  const runner = new ScriptRunner({ states: 2, actions });

  // 1. run() -> Promise
  const sum = await runner.run('local a, b = ... return a + b', { args: [20, 22] });
  console.log('promise :', sum);

  // 2. enqueue(..., { callback }) -> called once on the main thread
  await new Promise((resolve) => {
    runner.enqueue('return string.rep("ab", 3)', {
      callback: (err, value) => { console.log('callback:', err ? err.message : value); resolve(); },
    });
  });

  // 3. enqueue(..., { deliver: 'actions' }) -> nothing reaches your code until drain()
  const entity = { name: 'orc#7' };
  const id = runner.enqueue('engine.log("info", "thinking") engine.post("moved", { x = 3 }) return "attack"', {
    deliver: 'actions', ctx: entity,
  });
  while (runner.pending > 0) await new Promise((r) => setTimeout(r, 16)); // a few frames
  for (const a of actions.drain()) {                                      // the frame barrier
    if (a.type === 'log') console.log(`actions : log   job ${a.jobId} ${a.level}: ${a.message}`);
    if (a.type === 'post') console.log(`actions : post  job ${a.jobId} ${a.name}`, a.data);
    if (a.type === 'result') console.log(`actions : result job ${a.jobId} for ${a.ctx.name}:`, a.value, a.jobId === id);
    if (a.type === 'error') console.log(`actions : error job ${a.jobId}:`, a.error.message);
  }
  await runner.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
