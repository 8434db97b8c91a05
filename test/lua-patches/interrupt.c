/*
** Smoke test of patch 0009 (lua_setinterrupthandler / lua_interruptflag /
** lua_checkinterrupt): another thread sets the flag after 50 ms; every
** script below would otherwise run (nearly) for ever. The handler leaves the
** flag set, so 'pcall' cannot swallow the interrupt.
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

static void handler (lua_State *L) {
  luaL_error(L, "interrupted");
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
  printf("%d passed, %d failed\n", i - failures, failures);
  return failures != 0;
}
