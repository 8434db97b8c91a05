/*
** C driver for the luapool patches whose bugs need a failing allocator
** (the standalone interpreter cannot show them):
**   memfail finishset   patch 0002 (lua/lua 983bc433)
**   memfail errerr      patch 0005 (lua/lua 25da574f)
** Exit status 0: behaved as fixed Lua does. Anything else (assertion,
** AddressSanitizer report, panic = exit 3): the bug is there.
** Built and run by test/lua-patches/run.js against the objects made by
** scripts/build-lua-cli.js (use the --asan builds to see use-after-free).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "lobject.h"
#include "lstring.h"

static int fail_next = 0;        /* fail the next growing allocation */
static size_t fail_size = 0;     /* fail every allocation of this size */

static void *l_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) { free(ptr); return NULL; }
  if (ptr == NULL) osize = 0;
  if (fail_next && nsize > osize) { fail_next = 0; return NULL; }
  if (fail_size != 0 && nsize == fail_size && ptr == NULL) return NULL;
  return realloc(ptr, nsize);
}

static int l_failnext (lua_State *L) { (void)L; fail_next = 1; return 0; }

static int l_failerrerr (lua_State *L) {
  /* every new "error in error handling" string (23 chars) fails */
  fail_size = lua_toboolean(L, 1) ? sizelstring(23) : 0;
  return 0;
}

static int l_panic (lua_State *L) {
  fprintf(stderr, "PANIC: unprotected error: %s\n", lua_tostring(L, -1));
  exit(3);
  return 0;
}

static int cmsgh (lua_State *L) {   /* a message handler that always fails */
  return lua_error(L);
}

static const char finishset[] =
  "collectgarbage('stop')  -- only the emergency collection may run\n"
  "local function make()\n"
  "  -- the '__newindex' table is reachable only through a weak metatable\n"
  "  return setmetatable({}, setmetatable({__newindex = {}}, {__mode = 'v'}))\n"
  "end\n"
  "local function clobber() local a, b, c, d, e, f, g, h, i, j, k, l end\n"
  "for round = 1, 20 do\n"
  "  local obj = make()\n"
  "  clobber()   -- no stale copy of the table in dead stack slots\n"
  "  local function set()\n"
  "    failnext()  -- the insertion's allocation fails -> emergency GC\n"
  "    obj.x = round\n"
  "  end\n"
  "  assert(pcall(set))\n"
  "  assert(rawget(obj, 'x') == nil)\n"
  "  local target = getmetatable(obj).__newindex\n"
  "  assert(type(target) == 'table' and target.x == round)\n"
  "end\n"
  "return 'ok'\n";

static const char errerr[] =
  "local function handler(m) error(m) end   -- fails every time\n"
  "failerrerr(true)\n"
  "local ok, a, b = pcall(xpcall, error, handler, 'x')\n"
  "failerrerr(false)\n"
  "-- fixed Lua: xpcall itself returns the (memory) error;\n"
  "-- 5.4.7: the memory error escapes xpcall's protection\n"
  "assert(ok == true, 'memory error escaped xpcall: ' .. tostring(a))\n"
  "assert(a == false and b == 'not enough memory', tostring(b))\n"
  "return 'ok'\n";

int main (int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "";
  lua_State *L = lua_newstate(l_alloc, NULL);
  int status;
  if (L == NULL) return 2;
  lua_atpanic(L, l_panic);
  luaL_openlibs(L);
  lua_register(L, "failnext", l_failnext);
  lua_register(L, "failerrerr", l_failerrerr);
  if (strcmp(which, "finishset") == 0)
    status = luaL_loadstring(L, finishset);
  else if (strcmp(which, "errerr") == 0)
    status = luaL_loadstring(L, errerr);
  else { fprintf(stderr, "usage: memfail finishset|errerr\n"); return 2; }
  if (status == LUA_OK) status = lua_pcall(L, 0, 1, 0);
  if (status != LUA_OK) {
    fprintf(stderr, "%s: %s\n", which, lua_tostring(L, -1));
    return 1;
  }
  lua_pop(L, 1);
  if (strcmp(which, "errerr") == 0) {
    /* the outermost protected call: a failing handler, and the message
       cannot be created; 5.4.7 raises that memory error unprotected */
    lua_pushcfunction(L, cmsgh);
    lua_pushcfunction(L, cmsgh);   /* function to call: raises an error */
    fail_size = sizelstring(23);
    status = lua_pcall(L, 0, 0, -2);
    fail_size = 0;
    if (status != LUA_ERRMEM && status != LUA_ERRERR) {
      fprintf(stderr, "errerr: unexpected status %d\n", status);
      return 1;
    }
  }
  lua_close(L);
  printf("memfail %s: ok\n", which);
  return 0;
}
