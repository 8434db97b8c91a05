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

/* Row transfer for callColumns (native/columns.cpp): a row's elements straight onto the
** stack and back, without an API call per element. 'types' holds native/job.hpp's
** ElementType codes: 0 int8, 1 uint8, 2 int16, 3 uint16, 4 int32, 5 uint32, 6 float32,
** 7 float64. */

/* Pushes element 'row' of each of the n arrays 'data' (integers as integers, floats as
** floats). The caller has made room for n values (lua_checkstack). */
LUA_API void luapool_pushrow (lua_State *L, int n, void *const *data,
                              const unsigned char *types, size_t row) {
  StkId top;
  int i;
  lua_lock(L);
  api_check(L, n <= L->stack_last.p - L->top.p, "stack overflow");
  top = L->top.p;
  for (i = 0; i < n; i++, top++) {
    const void *d = data[i];
    switch (types[i]) {
      case 0: setivalue(s2v(top), ((const signed char *)d)[row]); break;
      case 1: setivalue(s2v(top), ((const unsigned char *)d)[row]); break;
      case 2: setivalue(s2v(top), ((const short *)d)[row]); break;
      case 3: setivalue(s2v(top), ((const unsigned short *)d)[row]); break;
      case 4: setivalue(s2v(top), ((const int *)d)[row]); break;
      case 5: setivalue(s2v(top), ((const unsigned int *)d)[row]); break;
      case 6: setfltvalue(s2v(top), ((const float *)d)[row]); break;
      default: setfltvalue(s2v(top), ((const double *)d)[row]); break;
    }
  }
  L->top.p = top;
  lua_unlock(L);
}

/* Reads the n values from stack index 'idx' on: kinds[i] is 1 for an integer (in ints[i]),
** 2 for a float (in nums[i]), 0 for anything else (no string conversion). */
LUA_API void luapool_readnumbers (lua_State *L, int idx, int n, lua_Integer *ints,
                                  lua_Number *nums, unsigned char *kinds) {
  int i;
  lua_lock(L);
  api_check(L, idx > 0 && idx + n - 1 <= L->top.p - (L->ci->func.p + 1), "invalid index");
  for (i = 0; i < n; i++) {
    const TValue *o = s2v(L->ci->func.p + idx + i);
    if (ttisinteger(o)) { ints[i] = ivalue(o); kinds[i] = 1; }
    else if (ttisfloat(o)) { nums[i] = fltvalue(o); kinds[i] = 2; }
    else kinds[i] = 0;
  }
  lua_unlock(L);
}

/* Raises Lua's own memory error (LUA_ERRMEM with the preallocated "not enough memory"
** message, as a failed allocation does). The addon uses it for a C++ exception
** (std::bad_alloc) caught before it could cross a Lua frame. Never returns. */
LUA_API int luapool_memerror (lua_State *L) {
  lua_lock(L);
  luaD_throw(L, LUA_ERRMEM);
  return 0;  /* not reached */
}

/* lua_next with a position instead of a key: pushes the key and the value of the first
** non-empty entry at or after position '*pos' of the table at 'idx' (the array part from 0,
** then the hash part), sets '*pos' past it and returns 1; returns 0 (pushing nothing) at
** the end. The order is lua_next's, but no step looks the previous key up again. Neither
** allocates nor raises; the caller provides 2 stack slots. The table must not change
** during the walk. */
LUA_API int luapool_nextat (lua_State *L, int idx, unsigned int *pos) {
  Table *t;
  unsigned int asize, i;
  lua_lock(L);
  t = hvalue(index2value(L, idx));
  asize = luaH_realasize(t);
  for (i = *pos; i < asize; i++) {
    if (!isempty(&t->array[i])) {
      setivalue(s2v(L->top.p), cast(lua_Integer, i) + 1);
      setobj2s(L, L->top.p + 1, &t->array[i]);
      L->top.p += 2;
      *pos = i + 1;
      lua_unlock(L);
      return 1;
    }
  }
  for (i -= asize; cast_int(i) < sizenode(t); i++) {
    Node *n = gnode(t, i);
    if (!isempty(gval(n))) {
      getnodekey(L, s2v(L->top.p), n);
      setobj2s(L, L->top.p + 1, gval(n));
      L->top.p += 2;
      *pos = asize + i + 1;
      lua_unlock(L);
      return 1;
    }
  }
  *pos = asize + i;
  lua_unlock(L);
  return 0;
}

/* Records of one shape, fast: 'tmpl' (at 'tidx') is a table whose hash part maps a shape's
** keys, each to its position 1..n (its array part is the decoder's and is not copied). Replaces the
** 'n' values on top of the stack, in the shape's key order, with a new table of those keys
** and values: the template's hash part is copied as it is (keys, chains and free pointer),
** then each key's slot gets its value, so no key is hashed or inserted. A nil value leaves
** its key with an empty value, as assigning nil to a field does (absent for every purpose).
** Raises only Lua's memory error. */
LUA_API void luapool_newshaped (lua_State *L, int tidx, int n) {
  Table *tmpl, *t;
  StkId base;
  int i, size;
  lua_lock(L);
  tmpl = hvalue(index2value(L, tidx));
  api_check(L, n <= L->top.p - (L->ci->func.p + 1), "not enough values");
  api_check(L, !isdummy(tmpl), "bad template");
  size = sizenode(tmpl);
  t = luaH_new(L);
  sethvalue2s(L, L->top.p, t);  /* anchor it above the values */
  api_incr_top(L);
  luaH_resize(L, t, 0, cast_uint(size));  /* the template's node count (a power of 2) */
  lua_assert(sizenode(t) == size);
  memcpy(t->node, tmpl->node, cast_sizet(size) * sizeof(Node));
  t->lastfree = t->node + (tmpl->lastfree - tmpl->node);
  base = L->top.p - 1 - n;  /* the first value */
  for (i = 0; i < size; i++) {
    Node *nd = gnode(t, i);
    if (!isempty(gval(nd))) {
      const TValue *v = s2v(base + (ivalue(gval(nd)) - 1));
      setobj2t(L, gval(nd), v);  /* a nil value makes the slot empty: the key is absent */
      if (ttisnil(v)) setempty(gval(nd));
      luaC_barrierback(L, obj2gco(t), v);
    }
  }
  setobj2s(L, base, s2v(L->top.p - 1));  /* t replaces the values */
  L->top.p = base + 1;
  luaC_checkGC(L);
  lua_unlock(L);
}

/* The collector's debt (bytes allocated since it last ran, minus its allowance: it runs a
** step once this is positive), and setting it (the total allocated stays what it is). */
LUA_API ptrdiff_t luapool_gcdebt (lua_State *L) {
  return cast(ptrdiff_t, G(L)->GCdebt);
}

LUA_API void luapool_setgcdebt (lua_State *L, ptrdiff_t debt) {
  luaE_setdebt(G(L), cast(l_mem, debt));
}

/* For the encoder's records (native/value-lua.cpp encodeAsShape): reads the entries of the
** table at 'idx' in luapool_nextat's order if they are exactly 'n', the i-th with the short
** string keys[i] (by identity) as its key and a number or a boolean as its value:
** kinds[i] = 1 integer (ints[i]), 2 float (nums[i]), 3 false, 4 true. Returns 1 if so,
** else 0 (the caller walks the table as usual). Neither allocates, raises nor touches the
** stack. */
LUA_API int luapool_readrecord (lua_State *L, int idx, const void *const *keys, int n,
                                unsigned char *kinds, lua_Integer *ints, lua_Number *nums) {
  Table *t;
  unsigned int asize, i;
  int k = 0;
  lua_lock(L);
  t = hvalue(index2value(L, idx));
  asize = luaH_realasize(t);
  for (i = 0; i < asize; i++) {
    if (!isempty(&t->array[i])) { lua_unlock(L); return 0; }
  }
  for (i = 0; cast_int(i) < sizenode(t); i++) {
    Node *nd = gnode(t, i);
    const TValue *v = gval(nd);
    if (isempty(v)) continue;
    if (k == n || !keyisshrstr(nd) || cast(const void *, keystrval(nd)) != keys[k]) {
      lua_unlock(L);
      return 0;
    }
    if (ttisinteger(v)) { ints[k] = ivalue(v); kinds[k] = 1; }
    else if (ttisfloat(v)) { nums[k] = fltvalue(v); kinds[k] = 2; }
    else if (ttisfalse(v)) kinds[k] = 3;
    else if (ttistrue(v)) kinds[k] = 4;
    else { lua_unlock(L); return 0; }
    k++;
  }
  lua_unlock(L);
  return k == n;
}
