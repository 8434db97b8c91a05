// Hostile scripts: each must end with the right error class and code, within a generous
// liveness bound, and the SAME state (a runner with states: 1) must then run a benign job
// correctly. Table-driven: { name, source, options, expect, code?, message?, check? }.
//
// options: memoryLimit selects the runner (runner-level option, default 32 MiB); every
// other key is a job option (timeoutMs, args, env, multret...; args may be a function that
// builds them right before the job is submitted). expect: an error class, or
// null when the job must succeed (check(value) then verifies the result).
const { test } = require('uvu');
const assert = require('uvu/assert');
const {
  ScriptRunner, LuapoolError, TimeoutError, MemoryLimitError, LuaError, MarshalError,
} = require('luapool');

const MiB = 1 << 20;
const DEFAULT_MEMORY = 32 * MiB;
const SAFETY_TIMEOUT_MS = 10000;  // every job has one, so a missed interrupt shows as a wrong class, not a hang
const HANG_MS = 30000;            // liveness: no job (plus its benign follower) may take longer than this

const CODES = new Map([
  [TimeoutError, 'ERR_TIMEOUT'],
  [MemoryLimitError, 'ERR_MEMORY_LIMIT'],
  [LuaError, 'ERR_LUA'],
  [MarshalError, 'ERR_MARSHAL'],
]);

const CPU = { timeoutMs: 100 };
const MEM = {};

// Deeply nested JS array for the "huge args" bombs.
function nestedArray(depth) {
  let v = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

// Host objects that change while they are encoded. Each is built when its entry runs.
// An array whose every element, when read, appends another such element: encoded from
// its length as first read, it stays finite (read again at every step, it never ends).
function selfGrowingArray() {
  const a = [];
  const element = () => ({ get x() { a.push(element()); return 1; } });
  a.push(element());
  return a;
}
function selfGrowingMap() {
  const m = new Map();
  let n = 0;
  const element = () => ({ get x() { m.set(++n, element()); return 1; } });
  m.set(0, element());
  return m;
}
function lyingLength(values) {
  let reads = 0;
  // the first read is the runner's own check of args.length, the second the encoder's
  return new Proxy(values, { get(t, k, r) { if (k === 'length') return ++reads === 2 ? 2 ** 32 - 1 : t.length; return Reflect.get(t, k, r); } });
}

/* eslint-disable max-len */
const HOSTILE = [
  // ---------------------------------------------------------------- CPU -> TimeoutError
  { name: 'cpu: while true', source: 'while true do end', options: CPU, expect: TimeoutError },
  { name: 'cpu: repeat until false', source: 'local n = 0 repeat n = n + 1 until false', options: CPU, expect: TimeoutError },
  { name: 'cpu: goto loop', source: '::top:: goto top', options: CPU, expect: TimeoutError },
  { name: 'cpu: numeric for to maxinteger', source: 'local s = 0 for i = 1, math.maxinteger do s = s + i end return s', options: CPU, expect: TimeoutError },
  { name: 'cpu: float for to math.huge', source: 'for i = 1, math.huge do end', options: CPU, expect: TimeoutError },
  { name: 'cpu: generic for over endless iterator', source: 'for _ in function() return 1 end do end', options: CPU, expect: TimeoutError },
  { name: 'cpu: pcall-wrapped endless loop in a loop', source: 'while true do pcall(function() while true do end end) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: xpcall(loop, loop)', source: 'local function loop() while true do end end xpcall(loop, loop)', options: CPU, expect: TimeoutError },
  { name: 'cpu: message handler loops after an ordinary error', source: 'xpcall(error, function() while true do end end, "boom")', options: CPU, expect: TimeoutError },
  { name: 'cpu: xpcall whose handler rethrows, in a loop', source: 'while true do xpcall(error, function(m) error(m) end, "x") end', options: CPU, expect: TimeoutError },
  { name: 'cpu: error(...) caught in a loop', source: 'while true do pcall(error, {}) end', options: CPU, expect: TimeoutError },
  {
    name: 'cpu: coroutine ping-pong',
    source: `local a, b
      b = coroutine.wrap(function() while true do coroutine.yield() end end)
      a = coroutine.wrap(function() while true do b() coroutine.yield() end end)
      while true do a() end`,
    options: CPU, expect: TimeoutError,
  },
  { name: 'cpu: endless coroutine.wrap creation', source: 'while true do coroutine.wrap(function() coroutine.yield() end)() end', options: CPU, expect: TimeoutError },
  { name: 'cpu: endless loop inside a coroutine', source: 'coroutine.wrap(function() while true do end end)()', options: CPU, expect: TimeoutError },
  {
    name: 'cpu: coroutine that catches everything, resumed forever',
    source: `local co = coroutine.create(function()
        while true do pcall(function() while true do coroutine.yield() end end) end
      end)
      while true do coroutine.resume(co) end`,
    options: CPU, expect: TimeoutError,
  },
  { name: 'cpu: deep recursion that keeps catching its errors (C stack)', source: 'local function f() pcall(f) pcall(f) end while true do pcall(f) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: Lua stack overflow caught in a loop', source: 'local function r() return 1 + r() end while true do pcall(r) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: tail-call loop', source: 'local function f(n) return f(n + 1) end return f(1)', options: CPU, expect: TimeoutError },
  { name: 'cpu: mutual tail calls', source: 'local g local function f() return g() end g = function() return f() end return f()', options: CPU, expect: TimeoutError },
  { name: 'cpu: load()-ed endless loop', source: 'load("while true do end")()', options: CPU, expect: TimeoutError },
  { name: 'cpu: compiling in a loop', source: 'local src = "return " .. ("1+"):rep(100) .. "1" while true do load(src)() end', options: CPU, expect: TimeoutError },
  { name: 'cpu: string.rep of an empty string, in a loop', source: 'while true do string.rep("", 1e15) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: string.format("%099d") in a loop', source: 'while true do local s = string.format("%099d", 7) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: pathological pattern in string.find', source: 'return string.find(("a"):rep(300), ("a*"):rep(6) .. "b")', options: CPU, expect: TimeoutError },
  { name: 'cpu: pathological pattern in string.gsub', source: 'return (string.gsub(("a"):rep(300), ("a*"):rep(6) .. "b", ""))', options: CPU, expect: TimeoutError },
  { name: 'cpu: pathological pattern in gmatch', source: 'for m in string.gmatch(("a"):rep(300), ("a*"):rep(6) .. "b") do end', options: CPU, expect: TimeoutError },
  { name: 'cpu: pathological pattern caught by pcall, retried', source: 'while true do pcall(string.match, ("a"):rep(300), ("a*"):rep(6) .. "b") end', options: CPU, expect: TimeoutError },
  { name: 'cpu: table.move over a huge empty range (backwards)', source: 'table.move({}, 1, math.maxinteger // 2, 2)', options: CPU, expect: TimeoutError },
  { name: 'cpu: table.move over a huge empty range (forwards)', source: 'table.move({}, 1, 1e15, 1, {})', options: CPU, expect: TimeoutError },
  { name: 'cpu: table.concat over a huge range of empty strings via __index', source: 'return table.concat(setmetatable({}, { __index = function() return "" end }), "", 1, math.maxinteger)', options: CPU, expect: TimeoutError },
  { name: 'cpu: table.sort comparator that loops', source: 'local t = {} for i = 1, 100 do t[i] = i end table.sort(t, function(a, b) while true do end end)', options: CPU, expect: TimeoutError },
  { name: 'cpu: __close that loops', source: 'do local x <close> = setmetatable({}, { __close = function() while true do end end }) end', options: CPU, expect: TimeoutError },
  { name: 'cpu: __close that loops while a timeout unwinds', source: 'local x <close> = setmetatable({}, { __close = function() while true do end end }) while true do end', options: CPU, expect: TimeoutError },
  { name: 'cpu: __tostring of the error value loops', source: 'error(setmetatable({}, { __tostring = function() while true do end end }))', options: CPU, expect: TimeoutError },
  { name: 'cpu: __index metamethod loops', source: 'return setmetatable({}, { __index = function() while true do end end }).x', options: CPU, expect: TimeoutError },

  // ------------------------------------------------------- memory -> MemoryLimitError
  { name: 'memory: table bomb', source: 'local t = {} while true do t[#t + 1] = {} end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: string bomb', source: 'local t, i = {}, 0 while true do i = i + 1 t[i] = tostring(i) .. ("x"):rep(100) end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: closure bomb', source: 'local t = {} while true do local x = #t t[#t + 1] = function() return x end end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: coroutine bomb', source: 'local t = {} while true do t[#t + 1] = coroutine.create(function() end) end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: suspended coroutines holding stacks', source: 'local t = {} while true do local co = coroutine.wrap(function(...) coroutine.yield() end) co(table.unpack({}, 1, 200)) t[#t + 1] = co end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: string concat doubling', source: 'local s = "x" while true do s = s .. s end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: table.insert loop', source: 'local t = {} while true do table.insert(t, 1.5) end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: one huge string.rep', source: 'return #string.rep("x", 1 << 30)', options: MEM, expect: MemoryLimitError },
  { name: 'memory: string.rep with a separator', source: 'return #string.rep("x", 1e6, ("y"):rep(1000))', options: MEM, expect: MemoryLimitError },
  { name: 'memory: gsub doubling its subject', source: 'local s = ("x"):rep(1000) while true do s = s:gsub("x", "xx") end', options: MEM, expect: MemoryLimitError },
  { name: 'memory: huge table.concat', source: 'local s, t = ("x"):rep(1 << 20), {} for i = 1, 1000 do t[i] = s end return #table.concat(t)', options: MEM, expect: MemoryLimitError },
  { name: 'memory: string.format of a growing string', source: 'local s = "x" while true do s = string.format("%s%s", s, s) end', options: MEM, expect: MemoryLimitError },
  {
    name: 'memory: memory errors caught with pcall, allocation continues',
    source: `local keep = {}
      while true do
        pcall(function() local t = {} while true do t[#t + 1] = {} end end)
        keep[#keep + 1] = ("y"):rep(1000) .. #keep
      end`,
    options: MEM, expect: MemoryLimitError,
  },
  {
    name: 'memory: memory error caught, script returns normally (still a MemoryLimitError)',
    source: 'local ok = pcall(function() local s = "x" while true do s = s .. s end end) return "survived"',
    options: MEM, expect: MemoryLimitError,
  },
  { name: 'memory: huge source compiled by load', source: 'return load(("x = 1 "):rep(1e7))', options: MEM, expect: MemoryLimitError },
  { name: 'memory: args larger than the memory limit', source: 'return #(...)', options: { args: ['x'.repeat(40 * MiB)] }, expect: MemoryLimitError },
  { name: 'memory: 256 KiB limit, table bomb', source: 'local t = {} while true do t[#t + 1] = {} end', options: { memoryLimit: 256 * 1024 }, expect: MemoryLimitError },

  // ----------------------------------------------------- stack depth -> LuaError
  // Lua's own stack cap (LUAI_MAXSTACK slots + CallInfos) needs ~40 MB: give it room to hit the cap first.
  { name: 'stack: deep Lua recursion', source: 'local function f() return 1 + f() end return f()', options: { memoryLimit: 128 * MiB }, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: nested pcall, rethrown at every level', source: 'local function f() local ok, e = pcall(f) if not ok then error(e, 0) end return ok end return f()', options: {}, expect: LuaError, message: /stack overflow|error in error handling/ },
  { name: 'stack: nested coroutine.wrap', source: 'local function f() return coroutine.wrap(f)() end return f()', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: nested coroutine.resume, rethrown', source: 'local function f() local ok, e = coroutine.resume(coroutine.create(f)) if not ok then error(e, 0) end end f()', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: gsub callback recursing', source: 'local function f(s) return (string.gsub(s, ".", f)) end return f("x")', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: table.sort comparator recursing into sort', source: 'local function cmp(a, b) table.sort({3, 2, 1}, cmp) return a < b end table.sort({3, 2, 1}, cmp)', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __index function recursing', source: 'local t t = setmetatable({}, { __index = function(_, k) return t[k] end }) return t.x', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __index table loop', source: 'local mt = {} local t = setmetatable({}, mt) mt.__index = t return t.x', options: {}, expect: LuaError, message: /__index' chain too long/ },
  { name: 'stack: __newindex table loop', source: 'local mt = {} local t = setmetatable({}, mt) mt.__newindex = t t.x = 1', options: {}, expect: LuaError, message: /__newindex' chain too long/ },
  { name: 'stack: __eq recursion', source: 'local mt = {} mt.__eq = function(a, b) return a == b end return setmetatable({}, mt) == setmetatable({}, mt)', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __lt recursion', source: 'local mt = {} mt.__lt = function(a, b) return a < b end return setmetatable({}, mt) < setmetatable({}, mt)', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __concat recursion', source: 'local mt = {} mt.__concat = function(a, b) return a .. b end return setmetatable({}, mt) .. "x"', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __tostring recursion', source: 'local t = setmetatable({}, { __tostring = function(x) return tostring(x) end }) return tostring(t)', options: {}, expect: LuaError, message: /stack overflow/ },
  { name: 'stack: __call chain', source: 'local mt = {} local t = setmetatable({}, mt) mt.__call = t return t()', options: {}, expect: LuaError },
  { name: 'stack: deeply nested table constructors via load', source: 'local f, err = load("return " .. ("{"):rep(100000) .. ("}"):rep(100000)) if not f then error(err, 0) end return f()', options: {}, expect: LuaError, message: /overflow|levels|too many/ },
  { name: 'stack: deeply nested table constructors as the job source', source: 'return ' + '{'.repeat(100000) + '}'.repeat(100000), options: {}, expect: LuaError, message: /overflow|levels|too many/ },
  { name: 'stack: 100000 nested parentheses as the job source', source: 'return ' + '('.repeat(100000) + '1' + ')'.repeat(100000), options: {}, expect: LuaError, message: /overflow|levels|too many/ },
  { name: 'stack: deeply nested functions via load', source: 'local f, err = load(("return function() "):rep(5000) .. ("end "):rep(5000)) if not f then error(err, 0) end', options: {}, expect: LuaError, message: /overflow|levels|too many/ },
  { name: 'stack: table.unpack of too many results', source: 'return select("#", table.unpack({}, 1, 1e8))', options: {}, expect: LuaError, message: /too many results/ },
  { name: 'stack: string.rep with a result too large', source: 'return string.rep("xx", math.maxinteger)', options: {}, expect: LuaError, message: /too large/ },

  // ------------------------------------------------------------- error values -> LuaError
  { name: 'error value: a table', source: 'error({ code = 7, why = "t" })', options: {}, expect: LuaError, check: (e) => assert.equal(e.value, { code: 7, why: 't' }) },
  { name: 'error value: nil', source: 'error(nil)', options: {}, expect: LuaError, check: (e) => { assert.is(e.value, undefined); assert.match(e.message, /nil/); } },
  { name: 'error value: a number', source: 'error(42)', options: {}, expect: LuaError, check: (e) => { assert.is(e.value, 42); assert.match(e.message, /42/); } },
  { name: 'error value: a boolean', source: 'error(false)', options: {}, expect: LuaError, check: (e) => assert.is(e.value, false) },
  { name: 'error value: a function', source: 'error(function() end)', options: {}, expect: LuaError, check: (e) => assert.match(e.message, /function/) },
  { name: 'error value: a coroutine', source: 'error(coroutine.create(print))', options: {}, expect: LuaError, check: (e) => assert.match(e.message, /thread/) },
  { name: 'error value: a cyclic table', source: 'local t = { name = "loop" } t.self = t error(t)', options: {}, expect: LuaError, check: (e) => { assert.is(e.value.name, 'loop'); assert.is(e.value.self, e.value); } },
  { name: 'error value: nested too deeply to convert', source: 'local t = {} for i = 1, 100000 do t = { t } end error(t)', options: {}, expect: LuaError },
  { name: 'error value: __tostring that throws', source: 'error(setmetatable({}, { __tostring = function() error("nested") end }))', options: {}, expect: LuaError },
  { name: 'error value: __tostring that returns a table', source: 'error(setmetatable({}, { __tostring = function() return {} end }))', options: {}, expect: LuaError },
  { name: 'error value: __index that throws (raw access only)', source: 'error(setmetatable({ k = 1 }, { __index = function() error("no") end, __pairs = function() error("no") end }))', options: {}, expect: LuaError, check: (e) => assert.equal(e.value, { k: 1 }) },
  { name: 'error value: a 8 MiB message', source: 'error(("m"):rep(8 << 20))', options: { memoryLimit: 128 * MiB }, expect: LuaError },
  { name: 'error inside __close', source: 'do local x <close> = setmetatable({}, { __close = function() error("in close") end }) end', options: {}, expect: LuaError, message: /in close/ },
  { name: 'error inside __close while another error unwinds', source: 'local x <close> = setmetatable({}, { __close = function() error("close error") end }) error("first")', options: {}, expect: LuaError, message: /close error/ },
  { name: 'error inside an xpcall message handler', source: 'local ok, e = xpcall(error, function(m) error("handler failed") end, "x") error(e, 0)', options: {}, expect: LuaError },
  { name: 'error with a table inside a coroutine', source: 'local ok, e = coroutine.resume(coroutine.create(function() error({ deep = true }) end)) error(e)', options: {}, expect: LuaError, check: (e) => assert.equal(e.value, { deep: true }) },
  { name: 'error: invalid order function for sorting', source: 'local t = {} for i = 1, 200 do t[i] = i % 7 end table.sort(t, function() return true end)', options: {}, expect: LuaError, message: /invalid order function/ },
  { name: 'error: gmatch retried after "pattern too complex"', source: 'local it = string.gmatch(("a"):rep(400), ("a?"):rep(400)) for i = 1, 3 do local ok, e = pcall(it) assert(not ok and e:find("too complex")) end return it()', options: {}, expect: LuaError, message: /pattern too complex/ },

  // ------------------------------------------------------- coroutine misuse -> LuaError
  { name: 'coroutine: resume a dead coroutine (wrap)', source: 'local f = coroutine.wrap(function() end) f() f()', options: {}, expect: LuaError, message: /dead coroutine/ },
  { name: 'coroutine: resume a dead coroutine (create)', source: 'local co = coroutine.create(function() end) coroutine.resume(co) local ok, e = coroutine.resume(co) error(e, 0)', options: {}, expect: LuaError, message: /dead coroutine/ },
  { name: 'coroutine: resume the running coroutine', source: 'local f f = coroutine.wrap(function() f() end) f()', options: {}, expect: LuaError, message: /non-suspended/ },
  { name: 'coroutine: resume the job\'s own thread', source: 'local ok, e = coroutine.resume(coroutine.running()) error(e, 0)', options: {}, expect: LuaError, message: /non-suspended/ },
  { name: 'coroutine: resume a normal (resuming) coroutine', source: 'local a a = coroutine.create(function() coroutine.wrap(function() local ok, e = coroutine.resume(a) error(e, 0) end)() end) local ok, e = coroutine.resume(a) error(e, 0)', options: {}, expect: LuaError, message: /non-suspended/ },
  { name: 'coroutine: yield from the job\'s main chunk', source: 'coroutine.yield(1)', options: {}, expect: LuaError, message: /yield/ },
  { name: 'coroutine: yield across pcall at top level', source: 'pcall(coroutine.yield, 1) return "went on"', options: {}, expect: LuaError, message: /yield/ },
  { name: 'coroutine: yield across table.sort comparator', source: 'coroutine.wrap(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end) end)()', options: {}, expect: LuaError, message: /C-call boundary/ },
  { name: 'coroutine: yield across a gsub callback', source: 'coroutine.wrap(function() string.gsub("abc", ".", function(c) coroutine.yield(c) end) end)()', options: {}, expect: LuaError, message: /C-call boundary/ },
  { name: 'coroutine: close the running coroutine', source: 'coroutine.close(coroutine.running())', options: {}, expect: LuaError, message: /running coroutine/ },
  { name: 'coroutine: wrap a non-function', source: 'coroutine.wrap(42)', options: {}, expect: LuaError },

  // --------------------------------------------------------------- marshaling bombs
  {
    name: 'marshal: 64-level DAG t = {t, t} returns quickly with shared refs',
    source: 'local t = {} for i = 1, 64 do t = { t, t } end return t',
    options: {}, expect: null, maxMs: 5000,
    check: (v) => { let n = 0; while (Array.isArray(v) && v.length === 2) { assert.is(v[0], v[1]); v = v[0]; n++; } assert.is(n, 64); },
  },
  { name: 'marshal: a cyclic result keeps its shape', source: 'local t = { n = 1 } t.me = t return t', options: {}, expect: null, check: (v) => { assert.is(v.me, v); assert.is(v.n, 1); } },
  { name: 'marshal: 100000-deep nesting', source: 'local t = {} for i = 1, 100000 do t = { t } end return t', options: {}, expect: MarshalError },
  { name: 'marshal: returning a function', source: 'return function() end', options: {}, expect: MarshalError, check: (e) => assert.match(e.message, /function/) },
  { name: 'marshal: returning a nested function names its path', source: 'return { a = { b = print } }', options: {}, expect: MarshalError, check: (e) => assert.match(e.message, /a\.b/) },
  { name: 'marshal: returning a coroutine', source: 'return coroutine.create(print)', options: {}, expect: MarshalError, check: (e) => assert.match(e.message, /thread/) },
  { name: 'marshal: one 1 MiB string 100 times in a result is encoded once', source: 'local s, t = ("x"):rep(1 << 20), {} for i = 1, 100 do t[i] = s end return t', options: {}, expect: null, check: (v) => { assert.is(v.length, 100); assert.is(v[99].length, MiB); } },
  { name: 'marshal: one 1 MiB string 100 times in a post, a host call and an error value', source: 'local s, t = ("x"):rep(1 << 20), {} for i = 1, 100 do t[i] = s end engine.post("p", t) error(t)', options: {}, expect: LuaError, check: (e) => assert.is(e.value.length, 100) },
  { name: 'marshal: a result over the encoded-size budget (no memory limit: 64 MiB)', source: 'return { big = ("x"):rep(65 << 20) }', options: { memoryLimit: 0 }, expect: MarshalError, check: (e) => assert.is(e.path, 'result[0].big') },
  { name: 'marshal: one 1 MiB string 100 times in args from JS is decoded once', source: 'local t = ... return #t, t[1] == t[100]', options: { args: [new Array(100).fill('y'.repeat(MiB))], multret: true }, expect: null, check: (v) => assert.equal(v, [100, true]) },
  { name: 'marshal: an array whose getters keep appending to it', source: 'local t = ... return #t', options: { args: () => [selfGrowingArray()] }, expect: null, check: (v) => assert.is(v, 1) },
  { name: 'marshal: a Map whose getters keep adding to it', source: 'local t, n = ..., 0 for _ in pairs(t) do n = n + 1 end return n', options: { args: () => [selfGrowingMap()] }, expect: null, check: (v) => assert.is(v, 1) },
  { name: 'marshal: an args Proxy claiming 2^32 - 1 values', source: 'return select("#", ...)', options: { args: () => lyingLength([1, 2]) }, expect: MarshalError, check: (e) => assert.match(e.message, /too many values/) },
  { name: 'marshal: an array Proxy with a negative length', source: 'return 1', options: { args: () => [new Proxy([], { get: (t, k, r) => (k === 'length' ? -1 : Reflect.get(t, k, r)) })] }, expect: MarshalError, check: (e) => assert.is(e.path, 'args[0]') },
  { name: 'marshal: a getter submitting jobs while the args are encoded', source: 'local a, b, c = ... return a .. b.x .. c', options: { args: () => ['<', { get x() { for (let i = 0; i < 20; i++) runnerFor(DEFAULT_MEMORY).run('return ...', { args: ['z'.repeat(100 * i)] }); return 'x'; } }, '>'] }, expect: null, check: (v) => assert.is(v, '<x>') },
  { name: 'marshal: args nested 100000 deep from JS', source: 'return 1', options: { args: [nestedArray(100000)] }, expect: MarshalError },
  { name: 'marshal: a function in args from JS', source: 'return 1', options: { args: [{ items: [1, 2, () => 1] }] }, expect: MarshalError, check: (e) => assert.match(e.message, /args\[0\]\.items\[2\]/) },
  { name: 'marshal: a symbol in env from JS', source: 'return 1', options: { env: { bad: Symbol('x') } }, expect: MarshalError, check: (e) => assert.match(e.message, /env\.bad/) },
  {
    name: 'marshal: huge but legal args from JS',
    source: 'local t, s = ... local n = 0 for i = 1, #t do n = n + t[i] end return { n = n, len = #s }',
    options: { args: [Array.from({ length: 200000 }, (_, i) => i), 's'.repeat(4 * MiB)] },
    expect: null, check: (v) => assert.equal(v, { n: 199999 * 200000 / 2, len: 4 * MiB }),
  },
  { name: 'marshal: an empty string.rep of maxinteger is instant', source: 'return #string.rep("", math.maxinteger)', options: {}, expect: null, check: (v) => assert.is(v, 0) },
];
/* eslint-enable max-len */

// A benign job touching what a hostile job could have broken: the VM, the string
// metatable and the pattern matcher, coroutines, pcall, the job env, the interrupt flag.
const BENIGN = `
  local n = ...
  local t = {}
  for i = 1, 100 do t[i] = i end
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
  local c1 = co(1)
  local c2 = co(10)
  local ok, e = pcall(error, "x")
  local str = ("hello world"):gsub("o", "0"):upper()
  local m = string.find(("a"):rep(50) .. "b", "a*b")
  local parts = {}
  for w in string.gmatch("one two three", "%a+") do parts[#parts + 1] = w end
  return { sum = s + n, co = c1 + c2, caught = (not ok) and e == "x", str = str, m = m,
           words = table.concat(parts, ","), leaked = leaked_global, big = #string.rep("ab", 1000) }
`;
function expectedBenign(n) {
  return { sum: 5050 + n, co: 22, caught: true, str: 'HELL0 W0RLD', m: 1, words: 'one,two,three', big: 2000 };
}

const runners = new Map();
function runnerFor(memoryLimit) {
  let r = runners.get(memoryLimit);
  if (!r) {
    r = new ScriptRunner({ states: 1, memoryLimit });
    runners.set(memoryLimit, r);
  }
  return r;
}

function withDeadline(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HUNG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

test('the hostile table has at least 40 entries', () => {
  assert.ok(HOSTILE.length >= 40, `${HOSTILE.length} entries`);
  const names = new Set(HOSTILE.map((h) => h.name));
  assert.is(names.size, HOSTILE.length, 'names are unique');
});

let benignRound = 0;
for (const h of HOSTILE) {
  test(`hostile: ${h.name}`, async () => {
    const { memoryLimit = DEFAULT_MEMORY, ...jobOptions } = h.options;
    if (jobOptions.timeoutMs === undefined) jobOptions.timeoutMs = SAFETY_TIMEOUT_MS;
    if (typeof jobOptions.args === 'function') jobOptions.args = jobOptions.args(); // built fresh, right before use
    const runner = runnerFor(memoryLimit);
    const started = Date.now();
    let value;
    let error;
    try {
      value = await withDeadline(runner.run(h.source, jobOptions), HANG_MS, 'the hostile job');
    } catch (e) {
      error = e;
    }
    const elapsed = Date.now() - started;
    if (error && /^HUNG/.test(error.message)) {
      runners.delete(memoryLimit);  // leave the stuck runner alone; later entries get a new one
      runner.close({ force: true }).catch(() => {});
      throw error;
    }
    if (h.expect === null) {
      assert.is(error, undefined, `expected success, got ${error && `${error.name}: ${error.message}`}`);
      if (h.check) h.check(value);
      if (h.maxMs) assert.ok(elapsed < h.maxMs, `took ${elapsed} ms (liveness bound ${h.maxMs} ms)`);
    } else {
      assert.ok(error !== undefined, `expected ${h.expect.name}, but the job succeeded with ${JSON.stringify(value)}`);
      assert.ok(error instanceof h.expect,
        `expected ${h.expect.name}, got ${error && error.name}: ${String(error && error.message).slice(0, 300)}`);
      assert.instance(error, LuapoolError);
      assert.is(error.code, CODES.get(h.expect));
      assert.type(error.message, 'string');
      if (h.message) assert.match(error.message, h.message);
      if (h.check) h.check(error);
      if (h.expect === TimeoutError) {
        const budget = jobOptions.timeoutMs;
        assert.ok(elapsed < budget + 5000, `timed out after ${elapsed} ms for a ${budget} ms budget`);
      }
    }
    // The same state runs a benign job correctly right afterwards.
    const n = ++benignRound;
    const benign = await withDeadline(runner.run(BENIGN, { args: [n], timeoutMs: 5000 }), HANG_MS, 'the benign job');
    assert.equal(benign, expectedBenign(n));
  });
}

test('the states are still healthy: stats show every job, no leaks of the running count', async () => {
  for (const r of runners.values()) {
    const st = r.stats();
    assert.is(st.running, 0);
    assert.is(st.queued, 0);
    assert.is(await r.run('return 6 * 7'), 42);
  }
});

test.after(async () => {
  await Promise.all([...runners.values()].map((r) => withDeadline(r.close({ force: true }), 10000, 'close')
    .catch(() => {})));
});

test.run();
