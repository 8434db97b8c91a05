/*
** Smoke test of patch 0009 (lua_setinterrupthandler / lua_interruptflag /
** lua_checkinterrupt) and of the patches that extend its checks (0010,
** 0020, 0021, 0023): another thread sets the flag after 50 ms; every
** script below would otherwise run (nearly) for ever, or for seconds past
** the interrupt. The handler leaves the flag set, so 'pcall' cannot
** swallow the interrupt. A script still running 20 s after its start is
** reported as hung and ends the program (exit 1).
** Also patch 0022: no emergency collection while the flag is set.
** Part 2 (patch 0015): coroutines whose every interrupt check yields (the
** handler asks for a yield whenever it can): each script must compute the
** same result as without interrupts, proving that a resumed coroutine
** re-runs the interrupted instruction correctly.
** Build: gcc -O2 -Ideps/lua/src test/lua-patches/interrupt.c build-lua/lua-cli/liblua.a -lm -ldl -lpthread
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static int handler (lua_State *L, int canyield) {
  (void)canyield;
  return luaL_error(L, "interrupted");
}

/* part 2: clear the flag and yield wherever that is possible; a count hook (of this
   driver only) raises the flag every few instructions, so the checks that see it fall on
   every kind of instruction */
static int yields_possible = 0;
static void raiser (lua_State *L, lua_Debug *ar) {
  (void)ar;
  __atomic_store_n(lua_interruptflag(L), 1, __ATOMIC_RELAXED);
}
static lua_State *driven = NULL;  /* only the coroutine the driver resumes may yield:
                                    a script's own coroutine would yield to its resumer */
static int slicer (lua_State *L, int canyield) {
  __atomic_store_n(lua_interruptflag(L), 0, __ATOMIC_RELAXED);
  if (!canyield || L != driven) return 0;
  yields_possible++;
  return 1;
}

/* each returns a number; run plainly and as a coroutine sliced at every check */
static const char *sliced[] = {
  "local s = 0 for i = 1, 2000 do s = s + i end return s",
  "local s, i = 0, 0 while i < 2000 do i = i + 1 s = s + i end return s",
  "local s, i = 0, 0 repeat i = i + 1 s = s + i until i >= 2000 return s",
  "local s = 0 for i = 1.0, 500.0, 0.5 do s = s + i end return s",
  "local t = {} for i = 1, 300 do t[i] = i end local s = 0 "
    "for k, v in ipairs(t) do s = s + k * v end for k, v in pairs(t) do s = s + v end return s",
  "local function f(...) return select('#', ...) + (... or 0) end local s = 0 "
    "for i = 1, 300 do s = s + f(i, i, i) + f(table.unpack({i, 2, 3})) end return s",
  "local function g(n, acc) if n == 0 then return acc end return g(n - 1, acc + n) end "
    "return g(3000, 0)",
  "local function h(a, b) return a * b end local s = 0 "
    "for i = 1, 400 do s = s + h(i, 2) + math.max(i, 3) end return s",
  "local n, s = 0, 0 ::top:: n = n + 1 s = s + n if n < 1000 then goto top end return s",
  "local s, i = 0, 10 while i ~= 0 and s < 1e9 do s = s + i i = i - 1 end "
    "local j = 0 repeat j = j + 1 until not (j < 500) return s + j",
  "local co = coroutine.wrap(function() for i = 1, 100 do coroutine.yield(i) end end) "
    "local s = 0 for i = 1, 100 do s = s + co() end return s",
  /* yields inside pcall/xpcall (yieldable in 5.4) and errors after a resume */
  "local s = 0 for i = 1, 200 do local ok, v = pcall(function() local t = 0 "
    "for j = 1, 10 do t = t + j end return t end) s = s + v end return s",
  "local s = 0 for i = 1, 200 do local ok, e = pcall(function() for j = 1, 10 do end error(i, 0) end) "
    "s = s + e end return s",
  "local s = 0 for i = 1, 100 do s = s + select(2, xpcall(function(a) local t = a for j = 1, 10 do "
    "t = t + 1 end return t end, print, i)) end return s",
  "local s = 0 local mt = { __add = function(a, b) local t = 0 for j = 1, 5 do t = t + j end return t end } "
    "local x = setmetatable({}, mt) for i = 1, 200 do s = s + (x + x) end return s",
  NULL
};

static int sliced_tests (void) {
  int failures = 0, i;
  for (i = 0; sliced[i]; i++) {
    lua_State *L = luaL_newstate();
    lua_State *co;
    lua_Number plain, got = -1;
    int status, nres, resumes = 0;
    luaL_openlibs(L);
    lua_setinterrupthandler(L, slicer);
    if (luaL_dostring(L, sliced[i]) != LUA_OK) { printf("FAIL plain %s\n", sliced[i]); failures++; lua_close(L); continue; }
    plain = lua_tonumber(L, -1);
    lua_settop(L, 0);
    co = lua_newthread(L);
    luaL_loadstring(co, sliced[i]);
    lua_sethook(co, raiser, LUA_MASKCOUNT, 7);
    driven = co;
    yields_possible = 0;
    do {
      status = lua_resume(co, L, 0, &nres);
      resumes++;
    } while (status == LUA_YIELD && resumes < 1000000);
    if (status == LUA_OK && nres >= 1) got = lua_tonumber(co, -1);
    {
      int ok = status == LUA_OK && got == plain && resumes > 10;
      if (!ok) failures++;
      printf("%s %7d slices  %s\n     -> %.14g (plain %.14g)%s\n", ok ? "ok  " : "FAIL", resumes,
             sliced[i], got, plain, status == LUA_OK ? "" : lua_tostring(co, -1));
    }
    lua_close(L);
  }
  return failures;
}

static int current = -1;  /* index of the script running (for the alarm) */

static void hung (int sig) {
  char msg[64];
  int n = snprintf(msg, sizeof(msg), "FAIL %d: hung (no interrupt in 20 s)\n", current);
  (void)sig;
  if (n > 0) { ssize_t w = write(1, msg, (size_t)n); (void)w; }
  _exit(1);
}

static int delay_ms = 50;  /* when the setter sets the flag */

static void *setter (void *p) {
  usleep((useconds_t)delay_ms * 1000);
  __atomic_store_n((int *)p, LUA_INTERRUPT_STOP | LUA_INTERRUPT_REQUEST, __ATOMIC_RELEASE);  /* a kill */
  return NULL;
}

static const char *scripts[] = {
  "while true do end",
  "repeat local x = 1 until x > 1",
  "local i = 0; repeat i = i + 1 until i < 0",
  "::top:: goto top",
  "for i = 1, math.huge do end",
  "for i = 1.0, math.huge, 0.5 do end",
  "local function f() return f() end; f()",
  "local function f(n) if n > 0 then f(n - 1) end end; while true do f(10) end",
  "while true do pcall(function() while true do end end) end",
  "local t = setmetatable({}, {__index = function(t, k) return k end}); while t[1] do end",
  "string.find(string.rep('a', 300), string.rep('a*', 6) .. 'b')",
  "for s in string.gmatch(string.rep('a', 300), string.rep('a*', 6) .. 'b') do end",
  "string.gsub(string.rep('a', 300), string.rep('a*', 6) .. 'b', '')",
  "table.move({}, 1, 1 << 40, 2)",
  "table.move({}, 2, 1 << 40, 1)",
  "local t = setmetatable({}, {__index = function() return 'x' end}); table.concat(t, '', 1, 1 << 40)",
  "local t = {} for i = 1, 3e5 do t[i] = -i end; while true do table.sort(t, function(a, b) return a < b end) end",
  "setmetatable({}, {__gc = function() while true do end end}) collectgarbage() while true do end",
  "assert(not xpcall(error, function(m) while true do end end)) while true do end",
  "local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end",
  "local s = string.rep('', 1 << 50)  while true do end",
  /* patch 0020: metamethods and callbacks called from C, table shifts */
  "local t = setmetatable({}, {__len = function() return math.maxinteger // 2 end,"
  "  __index = function(t, k) return k end, __newindex = function() end})"
  "  table.insert(t, 1, 0)",
  "local t = setmetatable({}, {__len = function() return math.maxinteger // 2 end,"
  "  __index = rawlen, __newindex = rawequal})  table.remove(t, 1)",
  "local t = setmetatable({}, {__len = function() return math.maxinteger // 2 end,"
  "  __index = {}, __newindex = {}})  table.insert(t, 1, 0)",
  "local t = setmetatable({}, {__len = function() return math.maxinteger // 2 end})"
  "  table.remove(t, 1)",
  "local mt = {} for i = 1, 1900 do mt = {__index = setmetatable({}, mt)} end"
  "  table.unpack(setmetatable({}, mt), 1, 990000)",
  "assert(load(function() return ' ' end))",  /* load returns the error */
  "table.sort(setmetatable({}, {__len = function() return 1 << 30 end,"
  "  __index = function(t, i) return i end, __newindex = function() end}),"
  "  function(a, b) return true end)",
  /* patch 0021: work inside one matcher step, plain search (subjects are
     built in large blocks, so that building them takes ~1 ms) */
  "local K = ('a'):rep(1024)"
  "  string.find(K:rep(2048), K:rep(1023) .. ('a'):rep(1023) .. 'b', 1, true)",
  "string.find(('('):rep(1024):rep(8192), '%b()')",
  "local K = ('a'):rep(1024)"
  "  string.find(K:rep(1024), '[' .. ('b'):rep(1024):rep(1024) .. 'a]*x')",
  "local K = ('a'):rep(1024)"
  "  string.find(K:rep(1024), '%f[' .. ('b'):rep(1024):rep(1024) .. ']')",
  "string.gsub(('b'):rep(1024):rep(1024), '(a*)', ('%1'):rep(1024):rep(4096))",
  /* patch 0023: ephemeron chain (the collector gives up precision); the
     interrupt comes after the chain is built */
  "--delay 1500\n"
  "local n = 300000 local keys = {} for i = 1, n do keys[i] = {} end"
  "  for i = n, 2, -1 do local j = math.random(i) keys[i], keys[j] = keys[j], keys[i] end"
  "  local e = setmetatable({}, {__mode = 'k'})"
  "  for i = 1, n - 1 do e[keys[i]] = keys[i + 1] end"
  "  local head = keys[1] keys = nil  while true do collectgarbage() end",
  NULL
};


/*
** Patch 0022: while the flag is set, a failed allocation is final (no
** emergency collection). A value only weakly referenced survives a failed
** allocation made with the flag set; without the patch the emergency
** collection clears it.
*/
static int refuse = 0;

static void *refusing_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) { free(ptr); return NULL; }
  if (ptr == NULL) osize = 0;
  if (refuse && nsize > osize) return NULL;
  return realloc(ptr, nsize);
}

/* 'bits': the flag while the allocation fails. Patch 0024: only a kill
   (LUA_INTERRUPT_STOP) suppresses the collection; a plain request (a time
   slice, a sample) does not */
static int no_emergency_gc (int index, int bits) {
  int kill = (bits & LUA_INTERRUPT_STOP) != 0;
  lua_State *L = lua_newstate(refusing_alloc, NULL);
  int *flag = lua_interruptflag(L);
  int status, ok;
  luaL_openlibs(L);  /* no interrupt handler: checks do nothing */
  ok = luaL_dostring(L, "collectgarbage('stop')"
    " weak = setmetatable({}, {__mode = 'v'}); weak[1] = {}") == LUA_OK;
  ok = ok && luaL_loadstring(L, "local t = {} for i = 1, 100 do t[i] = {} end") == LUA_OK;
  __atomic_store_n(flag, bits, __ATOMIC_RELEASE);
  refuse = 1;
  status = lua_pcall(L, 0, 0, 0);  /* fails: memory */
  refuse = 0;
  __atomic_store_n(flag, 0, __ATOMIC_RELEASE);
  ok = ok && status == LUA_ERRMEM;
  lua_settop(L, 0);
  ok = ok && luaL_dostring(L, "return weak[1] ~= nil") == LUA_OK;
  ok = ok && lua_toboolean(L, -1) == kill;
  printf("%s %2d %s (status %d, weak value %s)\n", ok ? "ok  " : "FAIL", index,
         kill ? "no emergency collection while a kill is pending"
              : "an emergency collection while only a request is pending",
         status, lua_toboolean(L, -1) ? "kept" : "collected");
  lua_close(L);
  return ok;
}

/* usage: interrupt [N...]: all scripts, or only the scripts numbered N */
static int selected (int argc, char **argv, int i) {
  int k;
  if (argc <= 1) return 1;
  for (k = 1; k < argc; k++)
    if (atoi(argv[k]) == i) return 1;
  return 0;
}

int main (int argc, char **argv) {
  int failures = 0, i, ran = 0;
  signal(SIGALRM, hung);
  for (i = 0; scripts[i]; i++) {
    lua_State *L = luaL_newstate();
    int *flag = lua_interruptflag(L);
    pthread_t th;
    int status;
    struct timespec t0, t1;
    if (!selected(argc, argv, i)) { lua_close(L); continue; }
    ran++;
    luaL_openlibs(L);
    lua_setinterrupthandler(L, handler);
    current = i;
    delay_ms = strncmp(scripts[i], "--delay ", 8) == 0 ? atoi(scripts[i] + 8) : 50;
    alarm(20);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&th, NULL, setter, flag);
    status = luaL_dostring(L, scripts[i]);
    pthread_join(th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    {
      double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
      const char *msg = status ? lua_tostring(L, -1) : "(no error)";
      /* an interrupted message handler ends as "error in error handling" (LUA_ERRERR) */
      int ok = status != LUA_OK && msg && ms < delay_ms + 2000 &&
               (strstr(msg, "interrupted") != NULL || strstr(msg, "error in error handling") != NULL);
      if (!ok) failures++;
      printf("%s %2d %6.1f ms  %s\n     -> %s\n", ok ? "ok  " : "FAIL", i, ms, scripts[i], msg ? msg : "?");
    }
    alarm(0);
    __atomic_store_n(flag, 0, __ATOMIC_RELAXED);
    lua_close(L);  /* __gc loops must not hang here either: the flag is clear */
  }
  if (selected(argc, argv, i)) {
    ran++;
    if (!no_emergency_gc(i, LUA_INTERRUPT_STOP | LUA_INTERRUPT_REQUEST)) failures++;
  }
  if (selected(argc, argv, i + 1)) {
    ran++;
    if (!no_emergency_gc(i + 1, LUA_INTERRUPT_REQUEST)) failures++;
  }
  if (argc < 2) {  /* part 2 runs with no script selection */
    int k;
    int sfail = sliced_tests();
    for (k = 0; sliced[k]; k++) ran++;
    failures += sfail;
  }
  printf("%d passed, %d failed\n", ran - failures, failures);
  return failures != 0;
}
