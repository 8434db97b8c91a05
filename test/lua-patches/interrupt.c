/*
** Smoke test of patches 0009 and 0015 (lua_setinterrupthandler /
** lua_interruptflag / lua_checkinterrupt, and yielding from the handler).
** Part 1: another thread sets the flag after 50 ms; every script below
** would otherwise run (nearly) for ever. The handler leaves the flag set,
** so 'pcall' cannot swallow the interrupt.
** Part 2: coroutines whose every interrupt check yields (the handler asks
** for a yield whenever it can): each script must compute the same result as
** without interrupts, proving that a resumed coroutine re-runs the
** interrupted instruction correctly.
** Build: gcc -O2 -Ideps/lua/src test/lua-patches/interrupt.c build-lua/lua-cli/liblua.a -lm -ldl -lpthread
*/
#include <pthread.h>
#include <stdio.h>
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

static void *setter (void *p) {
  usleep(50000);
  __atomic_store_n((int *)p, 1, __ATOMIC_RELEASE);
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
  NULL
};

int main (void) {
  int failures = 0, i;
  for (i = 0; scripts[i]; i++) {
    lua_State *L = luaL_newstate();
    int *flag = lua_interruptflag(L);
    pthread_t th;
    int status;
    struct timespec t0, t1;
    luaL_openlibs(L);
    lua_setinterrupthandler(L, handler);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&th, NULL, setter, flag);
    status = luaL_dostring(L, scripts[i]);
    pthread_join(th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    {
      double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
      const char *msg = status ? lua_tostring(L, -1) : "(no error)";
      /* an interrupted message handler ends as "error in error handling" (LUA_ERRERR) */
      int ok = status != LUA_OK && msg && ms < 2000 &&
               (strstr(msg, "interrupted") != NULL || strstr(msg, "error in error handling") != NULL);
      if (!ok) failures++;
      printf("%s %6.1f ms  %s\n     -> %s\n", ok ? "ok  " : "FAIL", ms, scripts[i], msg ? msg : "?");
    }
    __atomic_store_n(flag, 0, __ATOMIC_RELAXED);
    lua_close(L);  /* __gc loops must not hang here either: the flag is clear */
  }
  {
    int total = i;
    int sfail = sliced_tests();
    int k;
    for (k = 0; sliced[k]; k++) total++;
    failures += sfail;
    printf("%d passed, %d failed\n", total - failures, failures);
  }
  return failures != 0;
}
