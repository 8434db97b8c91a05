// Popular pure-Lua libraries, loaded through the `modules` option, run their typical use in
// 'safe' and in 'all' and give what the standalone `lua` (built from the same sources by
// scripts/build-lua-cli.js) gives running the same code with LUA_PATH pointed at the same
// files. In 'safe' a case may lose only to one of the sandbox's intended restrictions.
//
// The libraries are Debian's packages, fetched at test time into .cache/lua-libs/
// (gitignored, reused by later runs): `apt-get download` needs no root, `dpkg-deb -x`
// unpacks them. Never committed. Without apt (or its package lists) the test is skipped.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { ScriptRunner } = require('luapool');

const root = path.join(__dirname, '..');
const CACHE = path.join(root, '.cache', 'lua-libs');
// lua-serpent is not packaged by Debian; lua-json needs LPeg (a C module): dkjson is the JSON library here.
const PACKAGES = ['lua-inspect', 'lua-penlight', 'lua-dkjson', 'lua-luassert', 'lua-say', 'lua-argparse'];
const LUA = path.join(root, 'build-lua', 'lua-cli', 'lua');

function fetchLibraries() {
  const stamp = path.join(CACHE, 'packages.json');
  if (fs.existsSync(stamp)) {
    const known = JSON.parse(fs.readFileSync(stamp, 'utf8'));
    if (PACKAGES.every((p) => known[p])) return { versions: known };
  }
  const apt = spawnSync('apt-get', ['--version'], { encoding: 'utf8' });
  const dpkg = spawnSync('dpkg-deb', ['--version'], { encoding: 'utf8' });
  if (apt.error || dpkg.error) return { skip: 'apt-get or dpkg-deb is not available' };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-debs-'));
  try {
    const got = spawnSync('apt-get', ['download', ...PACKAGES], { cwd: tmp, encoding: 'utf8', timeout: 120000 });
    if (got.status !== 0) {
      return { skip: `apt-get download ${PACKAGES.join(' ')} failed (run apt-get update first?): ${(got.stderr || got.error || '').toString().trim().split('\n').pop()}` };
    }
    const unpacked = path.join(CACHE, 'root');
    fs.rmSync(unpacked, { recursive: true, force: true });
    fs.mkdirSync(unpacked, { recursive: true });
    const versions = {};
    for (const deb of fs.readdirSync(tmp).filter((f) => f.endsWith('.deb'))) {
      execFileSync('dpkg-deb', ['-x', path.join(tmp, deb), unpacked]);
      const [name, version] = String(execFileSync('dpkg-deb', ['-f', path.join(tmp, deb), 'Package', 'Version']))
        .split('\n').map((l) => l.replace(/^\w+: /, ''));
      versions[name] = version;
    }
    if (!PACKAGES.every((p) => versions[p])) return { skip: `not every package was downloaded: ${JSON.stringify(versions)}` };
    fs.writeFileSync(stamp, JSON.stringify(versions, null, 2));
    return { versions };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// Debian installs pure-Lua modules for 5.1 and links them into 5.x directories.
const ROOTS = ['5.4', '5.3', '5.2', '5.1'].map((v) => path.join(CACHE, 'root', 'usr', 'share', 'lua', v));
const LUA_PATH = ROOTS.map((r) => `${r}/?.lua;${r}/?/init.lua`).join(';');

// The `modules` function: the same search as LUA_PATH above (never called for names it
// was asked about already).
function findModule(name) {
  const rel = name.replace(/\./g, '/');
  for (const r of ROOTS) {
    for (const file of [`${rel}.lua`, path.join(rel, 'init.lua')]) {
      const p = path.join(r, file);
      if (fs.existsSync(p)) return fs.readFileSync(p);
    }
  }
  return undefined;
}

// Each case is a chunk that returns one string. `safe`: the intended restriction it hits
// in the sandbox (the error it fails with there), when it does.
const CASES = {
  'inspect: tables, cycles, metatables, depth, process': `
    local inspect = require 'inspect'
    local t = { a = 1, b = { 2, 3, { c = "x\\n" } }, [5] = true, ["key with space"] = 1.5 }
    t.self = t
    setmetatable(t.b, { __index = { hidden = 1 } })
    return table.concat({
      inspect(t),
      inspect(t, { depth = 1 }),
      inspect({ 1, 2, 3 }, { newline = " ", indent = "" }),
      inspect({ a = { b = 1 } }, { process = function(item, path) if path[#path] == "b" then return "B" end return item end }),
      inspect("quoted \\"string\\""), inspect(math.huge), inspect(nil), inspect({ [{}] = 1 }),
    }, "\\n")`,

  'dkjson: encode, decode, round trip, null, errors, unicode': `
    local json = require 'dkjson'
    local doc = { name = "luapool", list = { 1, 2.5, -3, 1e100 }, flags = { true, false },
                  nested = { empty = json.null, s = "é\\t\\"\\\\/" } }
    local keyorder = { "name", "list", "flags", "nested", "empty", "s" }
    local s = json.encode(doc, { keyorder = keyorder })
    local back, pos = json.decode(s, 1, json.null)
    local again = json.encode(back, { keyorder = keyorder })
    local _, _, bad = json.decode('{"a": [1, 2,, 3]}')
    return table.concat({ s, tostring(again == s), tostring(pos), tostring(back.nested.empty == json.null),
      json.encode({ "a", "b" }), json.encode({}), tostring(bad), json.encode("\\u{1F600}"),
      json.encode((json.decode('"\\\\u00e9\\\\ud83d\\\\ude00"'))), json.encode({ 1, 2, { 3 } }, { indent = true }) }, "\\n")`,

  'penlight: pl.List, pl.stringx, pl.utils, pl.tablex, pl.class, pl.OrderedMap, pl.Set, pl.template, pl.pretty.write, pl.seq, pl.lexer': `
    local List = require 'pl.List'
    local stringx = require 'pl.stringx'
    local utils = require 'pl.utils'
    local tablex = require 'pl.tablex'
    local pretty = require 'pl.pretty'
    local class = require 'pl.class'
    local OrderedMap = require 'pl.OrderedMap'
    local Set = require 'pl.Set'
    local template = require 'pl.template'
    local seq = require 'pl.seq'
    local lexer = require 'pl.lexer'
    local out = {}
    local function add(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, " ")
    end
    local l = List{5, 3, 8, 1}
    add(l, l:map(function(x) return x * 2 end), l:filter(function(x) return x > 2 end), l:reduce('+'),
        List.range(1, 5):slice(2, 4), l:clone():sort(), l:index(8), #l, l:join(','))
    add(List{'a', 'b'} .. List{'c'}, List.split("x y z"), l:contains(3), l:count(3))
    add(stringx.split("a,b,,c", ","), stringx.strip("  hi  "), stringx.startswith("hello", "he"),
        stringx.replace("aXbXc", "X", "-"), stringx.shorten("a long sentence", 8), stringx.title("the quick fox"),
        stringx.splitlines("a\\nb\\r\\nc"), stringx.count("banana", "an"), stringx.rjust("7", 3, "0"),
        stringx.Template("\${a} and $b"):substitute({ a = "x", b = "y" }), stringx.dedent("    a\\n    b\\n"))
    add(utils.split("a b c")[2], utils.string_lambda '|x| x * 3'(7), utils.bind1(math.max, 10)(3),
        utils.memoize(function(x) return x .. "!" end)("m"), utils.choose(true, "y", "n"), utils.pack(1, nil, 3).n,
        pcall(utils.assert_arg, 1, 3, 'string'))
    add(tablex.deepcompare({1, {2, x = 3}}, {1, {2, x = 3}}), tablex.size({a = 1, b = 2}),
        table.concat(tablex.keys({z = 1, a = 2, m = 3}):sort(), ","), tablex.reduce('+', {1, 2, 3}),
        tablex.find({4, 5, 6}, 5), pretty.write(tablex.map(function(x) return x * 10 end, {1, 2})),
        tablex.count_map({'a', 'b', 'a'}).a)
    add(pretty.write({1, 2, a = {3, b = "x"}, [10] = true}, ""), pretty.write({nested = {deep = {1}}}))
    local Animal = class()
    function Animal:_init(name) self.name = name end
    function Animal:__tostring() return "Animal(" .. self.name .. ")" end
    function Animal:speak() return "..." end
    local Dog = class(Animal)
    function Dog:speak() return self.name .. " says woof" end
    local d = Dog("rex")
    add(tostring(d), d:speak(), Dog:class_of(d), Animal:class_of(d), d:is_a(Animal), Dog._base == Animal)
    local om = OrderedMap() om:set("z", 1) om:set("a", 2) om:set("m", 3)
    add(table.concat(om:keys(), ","), om:get("a"), tostring(om))
    add(Set{1, 2, 3} + Set{3, 4}, Set{1, 2} * Set{2, 3}, Set.len(Set{'a', 'b'}))
    add(template.substitute("Hello $(name), $(#items) items", {name = "Ann", items = {1, 2}, _parent = _G}))
    add(seq.sum(seq.list{1, 2, 3}), seq.copy(seq.map(function(x) return x + 1 end, seq.list{1, 2}))[2])
    local toks = {}
    for t, v in lexer.lua("local x = 10 + y") do toks[#toks + 1] = t .. ":" .. v end
    add(table.concat(toks, " "))
    return table.concat(out, "\\n")`,

  'penlight: pl.pretty.read (its paranoid mode sets a debug hook)': {
    safe: /pl\.pretty:\d+: attempt to call a nil value \(field 'gethook'\)/,
    source: `
      local pretty = require 'pl.pretty'
      return pretty.read("{1, 2, a = 'x'}").a .. " " .. tostring((pretty.read("{os.exit()}")))`,
  },

  'luassert and say: spies, has_error, is_true, messages': `
    local assert = require 'luassert'
    local spy = require 'luassert.spy'
    local say = require 'say'
    local out = {}
    out[#out + 1] = tostring(pcall(assert.has_error, function() error("x") end))
    out[#out + 1] = tostring(pcall(assert.has_no.errors, function() end))
    out[#out + 1] = tostring(pcall(assert.is_true, false))
    out[#out + 1] = tostring(pcall(assert.equals, 1, 1))
    local s = spy.new(function(x) return x end)
    s(1) s(2)
    out[#out + 1] = tostring(pcall(assert.spy(s).was.called, 2))
    out[#out + 1] = tostring(pcall(assert.spy(s).was.called_with, 2))
    out[#out + 1] = tostring(pcall(assert.spy(s).was.called_with, 3))
    say:set_namespace('en') say:set('greet', 'hello %s')
    out[#out + 1] = say('greet', { 'world' })
    return table.concat(out, "\\n")`,

  'luassert: are.same and failure messages (they read metatables through debug.getmetatable)': {
    safe: /luassert\.util:\d+: attempt to call a nil value \(field 'getmetatable'\)/,
    source: `
      local assert = require 'luassert'
      local ok, err = pcall(assert.are.same, { 1, { 2 } }, { 1, { 3 } })
      return tostring(pcall(assert.are.same, { 1, { 2 } }, { 1, { 2 } })) .. "\\n" .. tostring(err) .. "\\n"
        .. tostring(select(2, pcall(assert.is_nil, 1)))`,
  },

  'argparse: arguments, options, flags, errors, help': `
    local argparse = require 'argparse'
    local parser = argparse("game", "A game server.")
    parser:argument("map", "Map to load.")
    parser:option("-p --port", "Port.", "7000"):convert(tonumber)
    parser:flag("-v --verbose", "Verbose.")
    local ok, args = parser:pparse({ "arena", "-p", "8080", "-v" })
    local bad, msg = parser:pparse({ "-p" })
    return table.concat({ tostring(ok), args.map, tostring(args.port), tostring(args.verbose), tostring(bad), msg,
      parser:get_usage(), parser:get_help() }, "\\n")`,
};

function normalize(s) {
  return String(s).replace(/0x[0-9a-f]+/g, '0x?');
}

// The standalone interpreter runs each case as a file: io.write(dofile(case)).
function standalone(source) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-libcase-'));
  try {
    fs.writeFileSync(path.join(dir, 'case.lua'), source);
    fs.writeFileSync(path.join(dir, 'run.lua'), 'io.write((dofile(arg[1])))');
    const r = spawnSync(LUA, ['run.lua', 'case.lua'], {
      cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, LUA_PATH, LUA_CPATH: '' }, timeout: 60000,
    });
    assert.is(r.status, 0, `standalone lua failed: ${r.stderr}`);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fetched = fetchLibraries();
if (fetched.skip) {
  console.log(`  (Lua library tests skipped: ${fetched.skip})`);
  test.skip('popular Lua libraries in safe and all');
} else {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-lua-cli.js'), '--quiet'], { stdio: 'inherit' });
  console.log(`  libraries: ${Object.entries(fetched.versions).map(([p, v]) => `${p} ${v}`).join(', ')}`);
  const runners = {
    safe: new ScriptRunner({ states: 2, libs: 'safe', timeoutMs: 30000, modules: findModule }),
    all: new ScriptRunner({ states: 2, libs: 'all', modules: findModule }),
  };
  const logs = [];
  for (const r of Object.values(runners)) r.on('log', (a) => logs.push(a));
  const expected = {};

  for (const [name, c] of Object.entries(CASES)) {
    const source = typeof c === 'string' ? c : c.source;
    for (const mode of ['safe', 'all']) {
      test(`${mode}: ${name}`, async () => {
        expected[name] ??= normalize(standalone(source));
        const restricted = mode === 'safe' && typeof c === 'object' ? c.safe : undefined;
        let got;
        try {
          got = normalize(await runners[mode].run(source, { name: `=${name.split(':')[0]}` }));
        } catch (e) {
          if (!restricted) throw e;
          got = e.message;
        }
        if (restricted) {
          // the case fails (or reports a failure it caught) on the intended restriction only
          assert.match(got, restricted);
          return;
        }
        assert.fixture(got, expected[name]);
      });
    }
  }

  test('safe: every job requires afresh, a context keeps its modules; the function was asked once per name', async () => {
    const asked = new Map();
    const r = new ScriptRunner({ states: 2, modules: (n) => { asked.set(n, (asked.get(n) || 0) + 1); return findModule(n); } });
    try {
      const job = 'local List = require "pl.List" List.injected = (List.injected or 0) + 1 return List.injected';
      assert.equal(await Promise.all([1, 2, 3, 4].map(() => r.run(job))), [1, 1, 1, 1]);
      const ctx = r.context('mod');
      assert.is(await ctx.run(job), 1);
      assert.is(await ctx.run(job), 2);
      await ctx.close();
      assert.ok(asked.size > 3, [...asked.keys()].join(' '));
      assert.ok([...asked.values()].every((n) => n === 1), JSON.stringify([...asked]));
    } finally {
      await r.close();
    }
  });

  test('safe: the object form of modules serves the same files', async () => {
    const sources = {};
    for (const n of ['inspect', 'pl.compat', 'pl.utils', 'pl.types', 'pl.List', 'pl.tablex', 'pl.class']) sources[n] = findModule(n);
    const r = new ScriptRunner({ states: 1, modules: sources });
    try {
      assert.is(await r.run('return require("inspect")({ tostring(require("pl.List"){1, 2}:map(function(x) return x + 1 end)) })'), '{ "{2,3}" }');
    } finally {
      await r.close();
    }
  });

  test('no library logged anything (a warning would be a log action in the sandbox)', () => {
    assert.equal(logs.map((a) => a.message), []);
  });

  test.after(async () => {
    await runners.safe.close();
    await runners.all.close();
  });
}

test.run();
