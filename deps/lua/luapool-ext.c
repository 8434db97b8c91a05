/*
** luapool additions to the Lua API, compiled in the same translation unit as Lua
** (deps/lua/lua-all.cpp) so they can use the core's internals.
*/

/* Pushes a new closure sharing the prototype of the Lua function at 'idx', with fresh
** closed upvalues (all nil). Used to give a cached compiled chunk a private _ENV. */
LUA_API void lua_clonefunction (lua_State *L, int idx) {
  const TValue *o;
  LClosure *src, *cl;
  lua_lock(L);
  o = index2value(L, idx);
  api_check(L, ttisLclosure(o), "Lua function expected");
  src = clLvalue(o);
  cl = luaF_newLclosure(L, src->p->sizeupvalues);
  cl->p = src->p;
  setclLvalue2s(L, L->top.p, cl);
  api_incr_top(L);
  luaF_initupvals(L, cl);
  luaC_checkGC(L);
  lua_unlock(L);
}

/* Installs the same warning function as luaL_newstate (warnings off until "@on"), for
** states made with lua_newstate and our own allocator. */
LUA_API void luapool_setdefaultwarnf (lua_State *L) {
  lua_setwarnf(L, warnfoff, L);
}

/* Whether an allocation refused now would be retried by Lua after an emergency collection
** (lmem.c's 'tryagain': a complete state, not inside a collection step, and -- patches 0022,
** 0024 -- no kill pending). The allocator uses it to tell a refusal Lua will retry from a
** final one. Reads only fields of the global state; callable from the allocator. */
LUA_API int luapool_willretryalloc (lua_State *L) {
  global_State *g = G(L);
  return completestate(g) && !g->gcstopem && !luaE_stoppending(g);
}

/* Sets registry[p] (a light userdata key) to nil without allocating, raising or touching
** the stack: for the emergency callback of patch 0025, which runs where an allocation
** failed. An absent key is left absent. */
LUA_API void luapool_dropregistryp (lua_State *L, const void *p) {
  Table *reg = hvalue(&G(L)->l_registry);
  TValue k;
  const TValue *slot;
  setpvalue(&k, cast_voidp(p));
  slot = luaH_get(reg, &k);
  if (!isabstkey(slot)) setnilvalue(cast(TValue *, slot));
}

/* Raises Lua's own memory error (LUA_ERRMEM with the preallocated "not enough memory"
** message, as a failed allocation does). The addon uses it for a C++ exception
** (std::bad_alloc) caught before it could cross a Lua frame. Never returns. */
LUA_API int luapool_memerror (lua_State *L) {
  lua_lock(L);
  luaD_throw(L, LUA_ERRMEM);
  return 0;  /* not reached */
}
