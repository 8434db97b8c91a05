'use strict';
// Workarounds for wasmoon 1.16.0, found while building this benchmark:
//
// 1. engine.doString() moves the chunk's results onto the main Lua stack and never pops
//    them (callByteCode only removes its thread). The C API does not check that stack, so
//    after about 60 calls that return a value the wasm heap is corrupted: "RuntimeError:
//    memory access out of bounds", or wrong results such as "attempt to index a nil value
//    (upvalue '_ENV')". We restore the stack top after every call.
// 2. doString() on one engine is not safe with several calls in flight: each call pushes a
//    thread and later removes it by absolute stack index, so interleaved calls remove each
//    other's threads and hang. On the main thread we run calls strictly one after another.
function doString(engine, src) {
  const top = engine.global.getTop();
  return engine.doString(src).finally(() => engine.global.setTop(top));
}

function serial(engine) {
  let chain = Promise.resolve();
  return (src) => {
    const p = chain.then(() => doString(engine, src));
    chain = p.catch(() => {});
    return p;
  };
}

module.exports = { doString, serial };
