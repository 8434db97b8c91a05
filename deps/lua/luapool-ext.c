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

/* The row view of callColumns (native/columns.cpp) is a plain table whose fields are the
** row's columns. The two functions below move a whole row between the typed arrays and
** that table's slots in one C call, without a lookup per field: slots[i] caches where
** field 'names[i]' lives (its node index + 1; 0 = not known yet). A cached index is
** used only if it is inside the table's node array and that node's key is still the
** name (a script may rawset new keys, or a collection may clear the key of a field set to
** nil, and a rehash moves every node), else the field is looked up again; a stale cache
** can never point outside the table. 'names' are strings the caller keeps alive. */

/* The node of field 'name' of 't' without the cache (which it updates), or NULL if the
** table has no such key. */
static Node *luapool_rowfind (Table *t, TString *name, unsigned int *slot) {
  const TValue *v;
  unsigned int s = *slot - 1;  /* a long name: the cached node may hold an equal string */
  if (name->tt == LUA_VLNGSTR && s < cast_uint(sizenode(t))) {
    Node *nd = gnode(t, s);
    if (keytt(nd) == ctb(LUA_VLNGSTR) && luaS_eqlngstr(keystrval(nd), name)) return nd;
  }
  v = luaH_getstr(t, name);
  if (isabstkey(v)) { *slot = 0; return NULL; }
  *slot = cast_uint(cast(const Node *, v) - t->node) + 1;
  return cast(Node *, v);
}

/* Field 'name' of a table whose node array is 'node' with 'size' nodes, through the cache
** 'slot' (node index + 1; 0 = unknown, which fails the bound check as UINT_MAX). */
#define luapool_rowslot(t, node, size, name, slot) \
  ((*(slot) - 1 < (size) && keytt((node) + (*(slot) - 1)) == ctb(LUA_VSHRSTR) && \
    keystrval((node) + (*(slot) - 1)) == (name)) \
     ? (node) + (*(slot) - 1) : luapool_rowfind((t), (name), (slot)))

/* Sets field names[i] of the table at 'tidx' to element 'row' of array data[i], for i < n;
** types[i] is native/job.hpp's ElementType code: 0 int8, 1 uint8, 2 int16, 3 uint16,
** 4 int32, 5 uint32, 6 float32, 7 float64. A field the table lost is inserted again
** (raises only Lua's memory error). Numbers need no GC barrier. */
LUA_API void luapool_setrow (lua_State *L, int tidx, int n, void *const *names, unsigned int *slots,
                             void *const *data, const unsigned char *types, size_t row) {
  Table *t;
  Node *node;
  unsigned int size;
  int i;
  lua_lock(L);
  t = hvalue(index2value(L, tidx));
  node = t->node;
  size = cast_uint(sizenode(t));
  for (i = 0; i < n; i++) {
    TValue v;
    TValue *o = &v;
    const void *d = data[i];
    TString *name = cast(TString *, names[i]);
    Node *nd = luapool_rowslot(t, node, size, name, &slots[i]);
    if (l_likely(nd != NULL)) o = gval(nd);
    switch (types[i]) {
      case 0: setivalue(o, ((const signed char *)d)[row]); break;
      case 1: setivalue(o, ((const unsigned char *)d)[row]); break;
      case 2: setivalue(o, ((const short *)d)[row]); break;
      case 3: setivalue(o, ((const unsigned short *)d)[row]); break;
      case 4: setivalue(o, ((const int *)d)[row]); break;
      case 5: setivalue(o, ((const unsigned int *)d)[row]); break;
      case 6: setfltvalue(o, ((const float *)d)[row]); break;
      default: setfltvalue(o, ((const double *)d)[row]); break;
    }
    if (l_unlikely(nd == NULL)) {
      TValue k;
      setsvalue(L, &k, name);
      luaH_set(L, t, &k, &v);  /* may resize: every cached slot is checked again */
      invalidateTMcache(t);
      luaC_barrierback(L, obj2gco(t), &k);
      node = t->node;
      size = cast_uint(sizenode(t));
    }
  }
  lua_unlock(L);
}

/* Reads field names[i] of the table at 'tidx' for i < n: kinds[i] is 1 for an integer (in
** ints[i]), 2 for a float (in nums[i]), 0 for anything else (nil, an absent field, a
** string: no conversion). Neither allocates nor raises. */
LUA_API void luapool_getrow (lua_State *L, int tidx, int n, void *const *names, unsigned int *slots,
                             lua_Integer *ints, lua_Number *nums, unsigned char *kinds) {
  Table *t;
  Node *node;
  unsigned int size;
  int i;
  lua_lock(L);
  t = hvalue(index2value(L, tidx));
  node = t->node;
  size = cast_uint(sizenode(t));
  for (i = 0; i < n; i++) {
    TString *name = cast(TString *, names[i]);
    Node *nd = luapool_rowslot(t, node, size, name, &slots[i]);
    const TValue *o = nd != NULL ? gval(nd) : NULL;
    if (o != NULL && ttisfloat(o)) { nums[i] = fltvalue(o); kinds[i] = 2; }
    else if (o != NULL && ttisinteger(o)) { ints[i] = ivalue(o); kinds[i] = 1; }
    else kinds[i] = 0;
  }
  lua_unlock(L);
}

/* The string object at 'idx' (a string), for luapool_setrow/getrow's 'names'. */
LUA_API const void *luapool_stringref (lua_State *L, int idx) {
  const TValue *o;
  lua_lock(L);
  o = index2value(L, idx);
  api_check(L, ttisstring(o), "string expected");
  lua_unlock(L);
  return tsvalue(o);
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
